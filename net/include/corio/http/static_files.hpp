// SPDX-License-Identifier: MIT
// static_files: serves the files under one directory for GET and HEAD.
#pragma once

#include <corio/http/request.hpp>
#include <corio/http/response.hpp>
#include <corio/http/router.hpp>
#include <corio/result.hpp>

#include <string>

namespace corio::http {

/// Files under a root directory: Content-Type by extension,
/// Last-Modified and If-Modified-Since (304). Nothing outside the root is ever served.
/// The path is percent-decoded and split into segments: "..", an encoded '/' or NUL (%2f,
/// %00) is 403, a symlink leading out of the root 403, a missing file 404, a directory its
/// index.html. 403 means refused (confinement, permissions) and nothing else: out of
/// descriptors or memory (EMFILE, ENFILE, ENOMEM) is 503 with Retry-After, any other OS error
/// 500. Behind a server (as_handler) a file never blocks the loop: a path the dentry cache
/// resolves is opened on the loop thread, any other on the blocking pool, and the body is read
/// with corio::file (docs/files.md).
class static_files {
public:
    /// Opens `root`. Errors: the OS error (ENOENT, ENOTDIR, EACCES).
    static result<static_files> open(const std::string& root);
    static_files(static_files&& o) noexcept;
    static_files& operator=(static_files&& o) noexcept;
    ~static_files();

    /// The response for `r`'s path, errors as statuses (see above); never throws for any input.
    /// Opens and stats on the calling thread (which a cold lookup blocks); as_handler does not.
    response serve(const request& r) const;
    /// serve() as a router fallback that never blocks the loop; `this` must outlive the router.
    handler as_handler() const;

private:
    explicit static_files(int root_fd) noexcept : root_fd_(root_fd) {}
    int root_fd_ = -1;
};

}  // namespace corio::http
