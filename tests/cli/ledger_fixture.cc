#include "tests/cli/ledger_fixture.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ccbatch::cli::testing {
namespace {

namespace v1 = ::ccbatch::v1;

constexpr char kRunRoot[] = "/home/chem/runs/chem-1";

struct JobSpec {
  std::string basename;
  std::string molecule_dir;
  v1::Program program;
  v1::JobStatus status;
  google::protobuf::Timestamp since;
  std::string reason;
  std::string slurm_job_id;
  std::vector<std::string> upstream;
};

v1::JobView MakeView(const JobSpec& spec) {
  v1::JobView view;
  view.set_key(absl::StrCat("chem-1/", spec.basename));
  view.set_batch("chem-1");
  view.set_basename(spec.basename);
  view.set_program(spec.program);
  view.set_directory(absl::StrCat(kRunRoot, "/", spec.molecule_dir));
  view.set_status(spec.status);
  view.set_reason(spec.reason);
  *view.mutable_status_since() = spec.since;
  view.set_cluster("hpc1");
  view.set_slurm_job_id(spec.slurm_job_id);
  view.set_attempt(spec.slurm_job_id.empty() ? 0 : 1);
  for (const auto& up : spec.upstream) {
    view.add_upstream_keys(absl::StrCat("chem-1/", up));
  }
  return view;
}

v1::Attempt FirstAttempt(const v1::JobView& view,
                         const google::protobuf::Timestamp& ordered,
                         const google::protobuf::Timestamp& submitted) {
  v1::Attempt attempt;
  attempt.set_number(1);
  attempt.set_cluster("hpc1");
  attempt.set_order_id(absl::StrCat("o-", view.slurm_job_id()));
  attempt.set_slurm_job_id(view.slurm_job_id());
  *attempt.mutable_ordered_at() = ordered;
  *attempt.mutable_submitted_at() = submitted;
  attempt.set_started_because("first");
  return attempt;
}

v1::JobEvent Event(uint64_t seq, const google::protobuf::Timestamp& at,
                   const std::string& key, v1::JobStatus from, v1::JobStatus to,
                   const std::string& reason) {
  v1::JobEvent event;
  event.set_seq(seq);
  *event.mutable_at() = at;
  event.set_job_key(key);
  event.set_from_status(from);
  event.set_to_status(to);
  event.set_reason(reason);
  return event;
}

v1::GetJobResponse MakeJob(const JobSpec& spec, int order) {
  v1::GetJobResponse job;
  *job.mutable_view() = MakeView(spec);
  v1::JobDefinition& def = *job.mutable_definition();
  def.set_key(job.view().key());
  def.set_basename(spec.basename);
  def.set_directory(job.view().directory());
  def.set_relative_directory(spec.molecule_dir);
  def.set_program(spec.program);
  def.set_order(order);
  def.set_source_line(order + 5);
  for (const auto& up : spec.upstream) {
    def.add_upstream_keys(absl::StrCat("chem-1/", up));
  }
  if (!spec.upstream.empty()) {
    v1::PipeSource& coords = *def.mutable_coords();
    coords.set_directory(".");
    coords.set_filename(absl::StrCat(spec.upstream[0], ".xyz"));
    coords.set_resolved_directory(job.view().directory());
    coords.set_upstream_key(absl::StrCat("chem-1/", spec.upstream[0]));
  }
  return job;
}

void SetUpstream(std::map<std::string, v1::GetJobResponse>& jobs,
                 const std::string& key) {
  v1::GetJobResponse& job = jobs[key];
  for (const std::string& up : job.definition().upstream_keys()) {
    *job.add_upstream() = jobs[up].view();
  }
}

}  // namespace

absl::Time FixtureNow() {
  return absl::FromCivil(absl::CivilSecond(2026, 1, 1, 12, 0, 0),
                         absl::UTCTimeZone());
}

google::protobuf::Timestamp At(int hour, int minute, int second) {
  google::protobuf::Timestamp t;
  t.set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2026, 1, 1, hour, minute, second),
                      absl::UTCTimeZone())));
  return t;
}

LedgerFixture MakeLedgerFixture() {
  const std::vector<JobSpec> specs = {
      {"benzene_opt",
       "benzene",
       v1::PROGRAM_XTB,
       v1::JOB_STATUS_SUCCEEDED,
       At(11, 20, 0),
       "SUCCEEDED: verdict on slurm job 48101: normal termination of xtb",
       "48101",
       {}},
      {"benzene_sp",
       "benzene",
       v1::PROGRAM_ORCA,
       v1::JOB_STATUS_RUNNING,
       At(11, 45, 30),
       "RUNNING: in snapshot 4812 of cluster hpc1 taken 11:59:30 as RUNNING "
       "on node c041",
       "48117",
       {"benzene_opt"}},
      {"pyridine_opt",
       "pyridine",
       v1::PROGRAM_XTB,
       v1::JOB_STATUS_FAILED,
       At(11, 31, 10),
       "FAILED: verdict on slurm job 48102: scf_fail",
       "48102",
       {}},
      {"pyridine_sp",
       "pyridine",
       v1::PROGRAM_ORCA,
       v1::JOB_STATUS_BROKEN_DEPENDENCY,
       At(11, 31, 10),
       "BROKEN_DEPENDENCY: upstream chem-1/pyridine_opt is FAILED",
       "",
       {"pyridine_opt"}},
      {"toluene_opt",
       "toluene",
       v1::PROGRAM_XTB,
       v1::JOB_STATUS_PENDING,
       At(11, 58, 0),
       "PENDING: in snapshot 4812 of cluster hpc1 taken 11:59:30 as PENDING "
       "(Priority)",
       "48120",
       {}},
      {"toluene_sp",
       "toluene",
       v1::PROGRAM_ORCA,
       v1::JOB_STATUS_WAITING,
       At(11, 50, 0),
       "WAITING: upstream chem-1/toluene_opt is PENDING",
       "",
       {"toluene_opt"}},
      {"toluene_freq",
       "toluene",
       v1::PROGRAM_ORCA,
       v1::JOB_STATUS_WAITING,
       At(11, 50, 0),
       "WAITING: upstream chem-1/toluene_sp is WAITING",
       "",
       {"toluene_sp"}},
  };
  LedgerFixture fixture;
  for (size_t i = 0; i < specs.size(); ++i) {
    v1::GetJobResponse job = MakeJob(specs[i], static_cast<int>(i));
    fixture.keys.push_back(job.view().key());
    fixture.jobs[job.view().key()] = job;
  }
  // Differing directories: the sp and freq jobs live in sub-directories.
  for (auto& [key, job] : fixture.jobs) {
    if (!absl::EndsWith(key, "_opt")) {
      const std::string dir =
          absl::StrCat(job.view().directory(), "/", job.view().basename());
      job.mutable_view()->set_directory(dir);
      job.mutable_definition()->set_directory(dir);
      job.mutable_definition()->mutable_coords()->set_directory("..");
    }
  }

  auto& benzene_opt = fixture.jobs["chem-1/benzene_opt"];
  *benzene_opt.add_attempts() =
      FirstAttempt(benzene_opt.view(), At(11, 2, 0), At(11, 2, 1));
  v1::Verdict& ok = *benzene_opt.mutable_verdict();
  ok.set_job_key("chem-1/benzene_opt");
  ok.set_slurm_job_id("48101");
  ok.set_attempt(1);
  ok.set_outcome(v1::Verdict::OUTCOME_SUCCEEDED);
  ok.set_summary("normal termination of xtb");
  ok.set_output_path("/home/chem/runs/chem-1/benzene/benzene_opt.out");
  ok.set_output_size(48213);
  *ok.mutable_output_mtime() = At(11, 19, 41);
  *ok.mutable_judged_at() = At(11, 20, 0);
  auto* evidence = ok.add_evidence();
  evidence->set_file("output");
  evidence->set_line_number(712);
  evidence->set_rule("normal_termination");
  evidence->set_text("* finished run on 2026/01/01 at 11:19:41.118");
  auto* energy = ok.add_fields();
  energy->set_name("total_energy");
  energy->add_values("-15.873312402563");
  auto* gap = ok.add_fields();
  gap->set_name("homo_lumo_gap_ev");
  gap->add_values("4.921838751829");
  *benzene_opt.add_events() =
      Event(11, At(11, 2, 0), "chem-1/benzene_opt", v1::JOB_STATUS_READY,
            v1::JOB_STATUS_SUBMITTING, "SUBMITTING: order o-48101 sent");
  *benzene_opt.add_events() =
      Event(14, At(11, 2, 30), "chem-1/benzene_opt", v1::JOB_STATUS_SUBMITTING,
            v1::JOB_STATUS_RUNNING,
            "RUNNING: in snapshot 4790 of cluster hpc1 taken 11:02:30 as "
            "RUNNING on node c040");
  *benzene_opt.add_events() =
      Event(40, At(11, 20, 0), "chem-1/benzene_opt", v1::JOB_STATUS_COMPLETING,
            v1::JOB_STATUS_SUCCEEDED,
            "SUCCEEDED: verdict on slurm job 48101: normal termination of xtb");

  auto& benzene_sp = fixture.jobs["chem-1/benzene_sp"];
  *benzene_sp.add_attempts() =
      FirstAttempt(benzene_sp.view(), At(11, 20, 5), At(11, 20, 6));

  auto& pyridine_opt = fixture.jobs["chem-1/pyridine_opt"];
  v1::Attempt failed_attempt =
      FirstAttempt(pyridine_opt.view(), At(11, 2, 0), At(11, 2, 2));
  *failed_attempt.mutable_finished_seen_at() = At(11, 30, 30);
  failed_attempt.set_last_queue_state("COMPLETED");
  *pyridine_opt.add_attempts() = failed_attempt;
  v1::Verdict& bad = *pyridine_opt.mutable_verdict();
  bad.set_job_key("chem-1/pyridine_opt");
  bad.set_slurm_job_id("48102");
  bad.set_attempt(1);
  bad.set_outcome(v1::Verdict::OUTCOME_FAILED);
  bad.set_cause("scf_fail");
  bad.set_summary("the SCF did not converge in 250 iterations");
  bad.set_output_path("/home/chem/runs/chem-1/pyridine/pyridine_opt.out");
  bad.set_output_size(20117);
  *bad.mutable_output_mtime() = At(11, 30, 2);
  *bad.mutable_judged_at() = At(11, 31, 10);
  auto* scf = bad.add_evidence();
  scf->set_file("output");
  scf->set_line_number(388);
  scf->set_rule("scf_fail");
  scf->set_text("[ERROR] SCF not converged in 250 iterations");
  auto* abnormal = bad.add_evidence();
  abnormal->set_file("output");
  abnormal->set_line_number(391);
  abnormal->set_rule("abnormal_termination");
  abnormal->set_text("abnormal termination of xtb");
  *pyridine_opt.add_events() = Event(
      39, At(11, 31, 10), "chem-1/pyridine_opt", v1::JOB_STATUS_COMPLETING,
      v1::JOB_STATUS_FAILED, "FAILED: verdict on slurm job 48102: scf_fail");

  auto& toluene_opt = fixture.jobs["chem-1/toluene_opt"];
  *toluene_opt.add_attempts() =
      FirstAttempt(toluene_opt.view(), At(11, 57, 58), At(11, 58, 0));

  for (const std::string& key : fixture.keys) SetUpstream(fixture.jobs, key);

  // Summary: chem-1 as above, chem-2 paused on the silent cluster.
  v1::BatchSummary& chem1 = *fixture.summary.add_batches();
  v1::BatchInfo& info = *chem1.mutable_batch();
  info.set_name("chem-1");
  info.set_cluster("hpc1");
  info.set_max_parallel(4);
  info.set_job_count(7);
  info.mutable_retry_policy()->add_retry_on("NODE_FAIL");
  info.mutable_retry_policy()->add_retry_on("PREEMPTED");
  info.mutable_retry_policy()->set_max_attempts(3);
  *info.mutable_imported_at() = At(11, 1, 0);
  std::map<int, int> counts;
  for (const auto& [key, job] : fixture.jobs) ++counts[job.view().status()];
  for (const auto& [status, count] : counts) {
    auto* entry = chem1.add_counts();
    entry->set_status(static_cast<v1::JobStatus>(status));
    entry->set_count(count);
  }
  chem1.set_total(7);
  chem1.set_final(3);
  v1::BatchSummary& chem2 = *fixture.summary.add_batches();
  chem2.mutable_batch()->set_name("chem-2");
  chem2.mutable_batch()->set_paused(true);
  chem2.mutable_batch()->set_cluster("hpc2");
  chem2.mutable_batch()->set_job_count(3);
  *chem2.mutable_batch()->mutable_imported_at() = At(9, 0, 0);
  auto* ready = chem2.add_counts();
  ready->set_status(v1::JOB_STATUS_READY);
  ready->set_count(3);
  chem2.set_total(3);

  v1::ClusterInfo& hpc1 = *fixture.clusters.add_clusters();
  hpc1.set_name("hpc1");
  hpc1.set_connected(true);
  hpc1.set_user("chem");
  hpc1.set_agent_version("0.1.0");
  hpc1.set_last_snapshot_seq(4812);
  *hpc1.mutable_last_snapshot_taken_at() = At(11, 59, 30);
  hpc1.set_last_snapshot_entries(37);
  hpc1.set_jobs_tracked(7);
  hpc1.set_cap(200);
  *hpc1.mutable_connection_changed_at() = At(8, 0, 0);
  v1::ClusterInfo& hpc2 = *fixture.clusters.add_clusters();
  hpc2.set_name("hpc2");
  hpc2.set_connected(false);
  hpc2.set_user("chem");
  hpc2.set_agent_version("0.1.0");
  hpc2.set_last_snapshot_seq(977);
  *hpc2.mutable_last_snapshot_taken_at() = At(10, 14, 30);
  hpc2.set_last_snapshot_entries(0);
  hpc2.set_last_probe_error(
      "squeue: error: Unable to contact slurm controller (connect failure)");
  *hpc2.mutable_last_probe_error_at() = At(10, 14, 50);
  hpc2.set_jobs_tracked(3);
  *hpc2.mutable_connection_changed_at() = At(10, 15, 0);
  *fixture.summary.mutable_clusters() = fixture.clusters.clusters();

  fixture.export_csv =
      "job_id|job_basename|job_directory|job_status|program|coords_from|"
      "xyz_filename|orbitals_from|gbw_filename\n"
      "48101|benzene_opt|benzene|succeeded|xTB||||\n"
      "48117|benzene_sp|benzene/benzene_sp|running|ORCA|..|benzene_opt.xyz||"
      "\n";
  return fixture;
}

std::vector<v1::JobView> FilterJobs(const LedgerFixture& fixture,
                                    const v1::ListJobsRequest& request) {
  std::vector<v1::JobView> out;
  for (const std::string& key : fixture.keys) {
    const v1::JobView& view = fixture.jobs.at(key).view();
    if (!request.batch().empty() && view.batch() != request.batch()) continue;
    if (!request.cluster().empty() && view.cluster() != request.cluster()) {
      continue;
    }
    if (!absl::StartsWith(view.basename(), request.name_prefix())) continue;
    if (!request.statuses().empty() &&
        std::find(request.statuses().begin(), request.statuses().end(),
                  view.status()) == request.statuses().end()) {
      continue;
    }
    out.push_back(view);
  }
  return out;
}

}  // namespace ccbatch::cli::testing
