#include "tests/ledger_service/test_certificates.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_system.h"
#include "common/process_runner.h"
#include "common/status_macros.h"

namespace ccbatch::testing {
namespace {

// Small, fast keys: the tests are about trust, not key strength.
const std::vector<std::string> kNewKey = {
    "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};

class CertificateMaker final {
 public:
  explicit CertificateMaker(std::string directory)
      : dir_(std::move(directory)), fs_(*common::PosixFileSystem::Default()) {}

  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }

  absl::Status Write(const std::string& name, const std::string& text) {
    return fs_.WriteFile(Path(name), text);
  }

  absl::StatusOr<std::string> Read(const std::string& name) const {
    return fs_.ReadFile(Path(name));
  }

  absl::Status Openssl(std::vector<std::string> args) {
    common::ProcessRequest request;
    request.argv = {"openssl"};
    request.argv.insert(request.argv.end(), args.begin(), args.end());
    request.working_directory = dir_;
    request.timeout = absl::Seconds(60);
    CCB_ASSIGN_OR_RETURN(const common::ProcessResult result,
                         runner_.Run(request));
    if (result.exit_code == 0) return absl::OkStatus();
    return absl::InternalError(absl::StrCat(absl::StrJoin(request.argv, " "),
                                            " failed (exit ", result.exit_code,
                                            "): ", result.stderr_text));
  }

  // A self-signed CA: <name>.key, <name>.pem.
  absl::Status MakeCa(const std::string& name, const std::string& cn) {
    std::vector<std::string> args = {"req", "-x509", "-new"};
    args.insert(args.end(), kNewKey.begin(), kNewKey.end());
    args.insert(args.end(),
                {"-keyout", Path(name + ".key"), "-out", Path(name + ".pem"),
                 "-days", "2", "-subj", "/CN=" + cn, "-addext",
                 "basicConstraints=critical,CA:TRUE", "-addext",
                 "keyUsage=critical,keyCertSign,cRLSign"});
    return Openssl(args);
  }

  // <name>.key and <name>.csr.
  absl::Status MakeRequest(const std::string& name, const std::string& cn) {
    std::vector<std::string> args = {"req", "-new"};
    args.insert(args.end(), kNewKey.begin(), kNewKey.end());
    args.insert(args.end(), {"-keyout", Path(name + ".key"), "-out",
                             Path(name + ".csr"), "-subj", "/CN=" + cn});
    return Openssl(args);
  }

  // <name>.pem from <name>.csr, signed by <ca>, valid from now for 2 days.
  absl::Status Sign(const std::string& name, const std::string& ca,
                    const std::string& extensions_file, int serial) {
    return Openssl({"x509", "-req", "-in", Path(name + ".csr"), "-CA",
                    Path(ca + ".pem"), "-CAkey", Path(ca + ".key"),
                    "-set_serial", absl::StrCat(serial), "-days", "2",
                    "-extfile", Path(extensions_file), "-out",
                    Path(name + ".pem")});
  }

  // <name>.pem from <request>.csr, signed by <ca>, valid only on 1 Jan 2020.
  absl::Status SignExpired(const std::string& name, const std::string& request,
                           const std::string& ca,
                           const std::string& extensions_file) {
    CCB_RETURN_IF_ERROR(fs_.CreateDirectories(Path("issued")));
    CCB_RETURN_IF_ERROR(Write("index.txt", ""));
    CCB_RETURN_IF_ERROR(Write("serial", "1000\n"));
    CCB_RETURN_IF_ERROR(Write(
        "ca.cnf",
        absl::StrCat("[ ca ]\n"
                     "default_ca = test_ca\n"
                     "[ test_ca ]\n"
                     "database = ",
                     Path("index.txt"), "\nnew_certs_dir = ", Path("issued"),
                     "\ncertificate = ", Path(ca + ".pem"), "\nprivate_key = ",
                     Path(ca + ".key"), "\nserial = ", Path("serial"),
                     "\ndefault_md = sha256\n"
                     "policy = policy_any\n"
                     "unique_subject = no\n"
                     "[ policy_any ]\n"
                     "commonName = supplied\n")));
    return Openssl({"ca", "-batch", "-config", Path("ca.cnf"), "-in",
                    Path(request + ".csr"), "-out", Path(name + ".pem"),
                    "-startdate", "20200101000000Z", "-enddate",
                    "20200102000000Z", "-extfile", Path(extensions_file),
                    "-notext"});
  }

  absl::StatusOr<KeyAndCertificate> Load(const std::string& key_name,
                                         const std::string& cert_name) const {
    KeyAndCertificate loaded;
    loaded.key_file = Path(key_name + ".key");
    loaded.certificate_file = Path(cert_name + ".pem");
    CCB_ASSIGN_OR_RETURN(loaded.key, fs_.ReadFile(loaded.key_file));
    CCB_ASSIGN_OR_RETURN(loaded.certificate,
                         fs_.ReadFile(loaded.certificate_file));
    return loaded;
  }

  common::FileSystem& fs() { return fs_; }

 private:
  const std::string dir_;
  common::FileSystem& fs_;
  common::RealProcessRunner runner_;
};

}  // namespace

absl::StatusOr<TestCertificates> MakeTestCertificates(
    const std::string& directory) {
  CertificateMaker maker(directory);
  CCB_RETURN_IF_ERROR(maker.fs().CreateDirectories(directory));
  CCB_RETURN_IF_ERROR(
      maker.Write("server.ext",
                  "basicConstraints = CA:FALSE\n"
                  "keyUsage = critical,digitalSignature\n"
                  "extendedKeyUsage = serverAuth\n"
                  "subjectAltName = DNS:localhost,IP:127.0.0.1\n"));
  CCB_RETURN_IF_ERROR(maker.Write("client.ext",
                                  "basicConstraints = CA:FALSE\n"
                                  "keyUsage = critical,digitalSignature\n"
                                  "extendedKeyUsage = clientAuth\n"));
  CCB_RETURN_IF_ERROR(maker.MakeCa("ca", "ccbatch test CA"));
  CCB_RETURN_IF_ERROR(maker.MakeCa("other_ca", "unrelated test CA"));
  CCB_RETURN_IF_ERROR(maker.MakeRequest("server", "localhost"));
  CCB_RETURN_IF_ERROR(maker.Sign("server", "ca", "server.ext", 1));
  CCB_RETURN_IF_ERROR(
      maker.SignExpired("expired_server", "server", "ca", "server.ext"));
  CCB_RETURN_IF_ERROR(maker.MakeRequest("client", "ccbatch-agent-hpc1"));
  CCB_RETURN_IF_ERROR(maker.Sign("client", "ca", "client.ext", 2));
  CCB_RETURN_IF_ERROR(maker.MakeRequest("foreign_client", "intruder"));
  CCB_RETURN_IF_ERROR(
      maker.Sign("foreign_client", "other_ca", "client.ext", 3));

  TestCertificates made;
  made.ca_file = maker.Path("ca.pem");
  CCB_ASSIGN_OR_RETURN(made.ca, maker.Read("ca.pem"));
  made.other_ca_file = maker.Path("other_ca.pem");
  CCB_ASSIGN_OR_RETURN(made.other_ca, maker.Read("other_ca.pem"));
  CCB_ASSIGN_OR_RETURN(made.server, maker.Load("server", "server"));
  CCB_ASSIGN_OR_RETURN(made.expired_server,
                       maker.Load("server", "expired_server"));
  CCB_ASSIGN_OR_RETURN(made.client, maker.Load("client", "client"));
  CCB_ASSIGN_OR_RETURN(made.foreign_client,
                       maker.Load("foreign_client", "foreign_client"));
  return made;
}

}  // namespace ccbatch::testing
