// cjhub-make-packet: an arrest packet carrying criminal justice forms, for the attachments benchmark.
//
//   cjhub-make-packet <template.xml> <total-bytes> <out.xml>
//
// Adds three forms (two PDF, one TIFF; their made-up content about 40, 33 and 27 % of what the
// attachments take) with true declarations, so that the document is about <total-bytes> long.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/attachments.hpp"

int main(int argc, char** argv) {
  using namespace cjhub::test;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <template.xml> <total-bytes> <out.xml>\n", argv[0]);
    return 2;
  }
  try {
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) throw std::runtime_error(std::string("cannot read ") + argv[1]);
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string packet = ss.str();
    const double total = std::atof(argv[2]);
    if (total < static_cast<double>(packet.size()) + 4096) throw std::runtime_error("total-bytes is too small");
    // Base64 takes 4 characters per 3 bytes and a newline per 76 characters.
    const double raw = (total - static_cast<double>(packet.size()) - 3 * 300) * 3.0 / 4.0 * 76.0 / 77.0;
    const auto a = fake_form("pdf", static_cast<std::size_t>(raw * 0.40), 21);
    const auto b = fake_form("tiff", static_cast<std::size_t>(raw * 0.33), 22);
    const auto c = fake_form("pdf", static_cast<std::size_t>(raw * 0.27), 23);
    const auto doc = with_attachments(packet, {attachment_xml(a, "application/pdf", size_kb(a), "Arrest warrant"),
                                               attachment_xml(b, "image/tiff", size_kb(b), "Fingerprint card"),
                                               attachment_xml(c, "application/pdf", size_kb(c), "Incident report")});
    std::ofstream out(argv[3], std::ios::binary);
    out << doc;
    if (!out) throw std::runtime_error(std::string("cannot write ") + argv[3]);
    std::printf("%s: %zu bytes, 3 attachments of %zu, %zu and %zu bytes\n", argv[3], doc.size(), a.size(), b.size(),
                c.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
