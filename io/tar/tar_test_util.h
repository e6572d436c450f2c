// Test helpers: build tar headers and pax bodies by hand, for hostile and
// corner-case archives GNU tar will not write.
#ifndef STRATA_IO_TAR_TAR_TEST_UTIL_H_
#define STRATA_IO_TAR_TAR_TEST_UTIL_H_

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/decompress/source.h"
#include "io/tar/tar_header.h"
#include "io/tar/tar_reader.h"

namespace strata {

struct HeaderSpec {
  std::string name = "file";
  char type = '0';
  int64_t size = 0;
  uint32_t mode = 0644;
  uint32_t uid = 0, gid = 0;
  int64_t mtime = 1700000000;
  std::string linkname;
  bool gnu = false;  // GNU magic instead of POSIX ustar
  uint32_t devmajor = 0, devminor = 0;
  std::string prefix;  // ustar only
};

inline HeaderSpec Spec(std::string name, char type = '0', bool gnu = false,
                       int64_t size = 0) {
  HeaderSpec h;
  h.name = std::move(name);
  h.type = type;
  h.gnu = gnu;
  h.size = size;
  return h;
}

inline void PutField(std::string* block, TarField f, std::string_view v) {
  std::memcpy(block->data() + f.offset, v.data(), std::min(v.size(), f.size));
}

// Octal, zero-padded, NUL-terminated, as GNU tar writes it.
inline void PutOctal(std::string* block, TarField f, uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llo", static_cast<int>(f.size - 1),
                static_cast<unsigned long long>(v));
  PutField(block, f, std::string_view(buf, f.size - 1));
}

// GNU base-256: 0x80 (or 0xff for negative) marker, big-endian two's
// complement.
inline void PutBase256(std::string* block, TarField f, int64_t v) {
  uint64_t u = static_cast<uint64_t>(v);
  for (size_t i = 0; i < f.size; ++i) {
    size_t shift = 8 * (f.size - 1 - i);
    (*block)[f.offset + i] = shift >= 64
                                 ? (v < 0 ? '\xff' : '\0')
                                 : static_cast<char>((u >> shift) & 0xff);
  }
  (*block)[f.offset] = static_cast<char>(v < 0 ? 0xff : 0x80);
}

// Recomputes the checksum (unsigned sum) after a field was changed.
inline void FixChecksum(std::string* block) {
  std::memset(block->data() + kTarChecksum.offset, ' ', kTarChecksum.size);
  unsigned sum = 0;
  for (size_t i = 0; i < kTarBlockSize; ++i)
    sum += static_cast<unsigned char>((*block)[i]);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06o", sum);
  std::memcpy(block->data() + kTarChecksum.offset, buf,
              7);  // 6 digits, NUL, space
}

inline std::string MakeHeader(const HeaderSpec& h) {
  std::string b(kTarBlockSize, '\0');
  PutField(&b, kTarName, h.name);
  PutOctal(&b, kTarMode, h.mode);
  PutOctal(&b, kTarUid, h.uid);
  PutOctal(&b, kTarGid, h.gid);
  PutOctal(&b, kTarSize, static_cast<uint64_t>(h.size));
  PutOctal(&b, kTarMtime, static_cast<uint64_t>(h.mtime));
  b[kTarTypeflagOffset] = h.type;
  PutField(&b, kTarLinkname, h.linkname);
  if (h.gnu) {
    PutField(&b, kTarMagic, std::string_view("ustar ", 6));
    PutField(&b, kTarVersion, std::string_view(" \0", 2));
  } else {
    PutField(&b, kTarMagic, std::string_view("ustar\0", 6));
    PutField(&b, kTarVersion, "00");
    PutField(&b, kUstarPrefix, h.prefix);
  }
  PutOctal(&b, kTarDevmajor, h.devmajor);
  PutOctal(&b, kTarDevminor, h.devminor);
  FixChecksum(&b);
  return b;
}

inline std::string Padded(std::string data) {
  data.resize((data.size() + kTarBlockSize - 1) / kTarBlockSize * kTarBlockSize,
              '\0');
  return data;
}

// A header whose size is data's, followed by data and padding.
inline std::string MakeEntry(HeaderSpec h, std::string_view data) {
  h.size = static_cast<int64_t>(data.size());
  return MakeHeader(h) + Padded(std::string(data));
}

// One pax record with its self-describing length.
inline std::string PaxRecordText(std::string_view key, std::string_view value) {
  size_t body = 1 + key.size() + 1 + value.size() + 1;  // " k=v\n"
  size_t len = body + 1;
  while (std::to_string(len).size() + body != len)
    len = std::to_string(len).size() + body;
  return std::to_string(len) + " " + std::string(key) + "=" +
         std::string(value) + "\n";
}

inline std::string PaxBody(
    const std::vector<std::pair<std::string, std::string>>& records) {
  std::string s;
  for (const auto& [k, v] : records) s += PaxRecordText(k, v);
  return s;
}

// A pax extended header entry ('x' or 'g') carrying body.
inline std::string PaxEntry(std::string_view body, char type = 'x') {
  HeaderSpec h;
  h.name = "PaxHeaders/file";
  h.type = type;
  return MakeEntry(h, body);
}

inline std::string EndOfArchive() {
  return std::string(2 * kTarBlockSize, '\0');
}

struct ReadEntry {
  TarEntry entry;
  std::string data;  // what ReadData returned
};

// Reads every entry and its data. When data_chunk is 0, data is not read
// (Next skips it).
inline Result<std::vector<ReadEntry>> ReadAllEntries(
    Source& src, size_t data_chunk = 4096, int64_t* consumed = nullptr) {
  TarReader reader(src);
  std::vector<ReadEntry> out;
  std::string buf(data_chunk > 0 ? data_chunk : 1, '\0');
  while (true) {
    ReadEntry r;
    STRATA_ASSIGN_OR_RETURN(bool more, reader.Next(&r.entry));
    if (!more) break;
    while (data_chunk > 0) {
      STRATA_ASSIGN_OR_RETURN(size_t got,
                              reader.ReadData(buf.data(), buf.size()));
      if (got == 0) break;
      r.data.append(buf.data(), got);
    }
    out.push_back(std::move(r));
  }
  if (consumed != nullptr) *consumed = reader.bytes_consumed();
  return out;
}

inline Result<std::vector<ReadEntry>> ReadAllEntries(std::string_view archive,
                                                     size_t data_chunk = 4096) {
  MemorySource src(archive);
  return ReadAllEntries(src, data_chunk);
}

}  // namespace strata

#endif  // STRATA_IO_TAR_TAR_TEST_UTIL_H_
