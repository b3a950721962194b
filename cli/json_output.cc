#include "cli/json_output.h"

#include "google/protobuf/util/json_util.h"

namespace ccbatch::cli {

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string json;
  // Printing a message without Any fields cannot fail; an error here would
  // be a bug, and the empty object still parses for the script.
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    json = "{}";
  }
  if (json.empty() || json.back() != '\n') json.push_back('\n');
  return json;
}

}  // namespace ccbatch::cli
