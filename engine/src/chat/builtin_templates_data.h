// The files of templates/ (the *.jinja sources and index.json), embedded in the engine by
// embed_templates.cmake at build time.
#pragma once

#include <cstddef>
#include <string_view>

namespace hearth::detail {

struct EmbeddedFile {
    std::string_view name; // file name inside templates/
    std::string_view text;
};

extern const EmbeddedFile kEmbeddedTemplates[];
extern const size_t kEmbeddedTemplateCount;

} // namespace hearth::detail
