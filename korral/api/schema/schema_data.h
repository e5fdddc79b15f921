// korral/api/schema/schema_data.h: the built-in schema text (internal to korral::api_schema).
//
// The schemas are written in a small line-oriented language, parsed once by schema.cc:
//
//   pkg <alias> <prefix>        declares an alias: `core` -> `io.k8s.api.core.v1`
//   in <alias>                  names declared/referenced without an alias live in <alias>
//   T <Name> [flags] | text     starts a named type (an object unless a flag says otherwise)
//     <field> <type> [flags] | text   (indented) a property of the current type
//
// Types: s (string), i32, i64, b (boolean), f64 (double), byte (base64 string), dt (date-time
// string), obj (free-form object), any (anything), []T (array), {}T (map), and references:
// `Name` (current package) or `alias.Name`.
// Type flags: gvk=<group>/<version>/<Kind> (repeatable; adds apiVersion/kind/metadata unless
// `nometa`), list (also declares <Name>List), scalar=<primitive>, iostr (int-or-string),
// preserve, mt=<map type>.
// Field flags: req, mk=<merge key>, ps=<patch strategy>, lt=<list type>, lmk=<k1,k2>, mt=<map
// type>, A (= lt=atomic), M=<k1[,k2]> (= mk=k1 ps=merge lt=map lmk=k1[,k2]), preserve.
// Text after `|` is the description.
#pragma once

#include <string_view>
#include <vector>

namespace korral::schema::internal {

extern const char kMetaSchemaText[];
extern const char kCoreSchemaText[];
extern const char kCoreVolumeSchemaText[];
extern const char kGroupsSchemaText[];
extern const char kStorageSchemaText[];  // schema_data_storage.cc

inline std::vector<std::string_view> SchemaTexts() {
  return {kMetaSchemaText, kCoreSchemaText, kCoreVolumeSchemaText, kGroupsSchemaText,
          kStorageSchemaText};
}

}  // namespace korral::schema::internal
