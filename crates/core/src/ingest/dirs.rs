//! Folder sources: Maildir trees and `.eml` trees.
//!
//! Both walk the tree depth first, one folder listed at a time and in name order, so the
//! order is the same on every machine and memory holds one folder's listing, not the tree's.
//! A file that cannot be read, or is over the size limit, becomes a quarantine record; a
//! folder that cannot be listed stops the run, since what it holds would otherwise vanish.

use std::collections::VecDeque;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Item, Origin, RawMail};
use crate::quarantine::{Quarantine, QuarantineReason, FIRST_BYTES};
use crate::{Error, Result};

/// True when `path` or one of its sub-folders has a `cur/` or `new/` folder.
pub(super) fn looks_like_maildir(path: &Path) -> bool {
    if is_maildir_folder(path) {
        return true;
    }
    fs::read_dir(path).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_type().is_ok_and(|t| t.is_dir()) && is_maildir_folder(&e.path()))
    })
}

fn is_maildir_folder(path: &Path) -> bool {
    path.join("cur").is_dir() || path.join("new").is_dir()
}

/// A file found by a walk, with what its origin needs.
struct Found {
    path: PathBuf,
    folder: Option<String>,
}

/// Depth-first walk over folders, listing one folder at a time.
struct Walk {
    root: PathBuf,
    maildir: bool,
    dirs: Vec<PathBuf>,
    files: VecDeque<Found>,
}

impl Walk {
    fn new(root: &Path, maildir: bool) -> Self {
        Walk {
            root: root.to_path_buf(),
            maildir,
            dirs: vec![root.to_path_buf()],
            files: VecDeque::new(),
        }
    }

    fn next_file(&mut self) -> Option<Result<Found>> {
        loop {
            if let Some(found) = self.files.pop_front() {
                return Some(Ok(found));
            }
            let dir = self.dirs.pop()?;
            if let Err(e) = self.list(&dir) {
                return Some(Err(e));
            }
        }
    }

    fn list(&mut self, dir: &Path) -> Result<()> {
        let (mut files, mut subdirs) = sorted_entries(dir)?;
        if self.maildir {
            subdirs.retain(|d| !matches!(file_name(d), "cur" | "new" | "tmp"));
            if is_maildir_folder(dir) {
                let folder = maildir_folder_name(&self.root, dir);
                for box_dir in ["new", "cur"] {
                    let inner = dir.join(box_dir);
                    if !inner.is_dir() {
                        continue;
                    }
                    let (mails, _) = sorted_entries(&inner)?;
                    self.files.extend(
                        mails
                            .into_iter()
                            .filter(|p| !file_name(p).starts_with('.'))
                            .map(|path| Found {
                                path,
                                folder: Some(folder.clone()),
                            }),
                    );
                }
            }
        } else {
            files.retain(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e.eq_ignore_ascii_case("eml"))
            });
            self.files
                .extend(files.into_iter().map(|path| Found { path, folder: None }));
        }
        // Pushed in reverse so that the first sub-folder by name is walked first.
        self.dirs.extend(subdirs.into_iter().rev());
        Ok(())
    }
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

fn sorted_entries(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        // The entry's type comes with the listing; only links need a stat, and are followed,
        // as a user pointing us at a tree of links expects.
        let is_dir = match entry.file_type() {
            Ok(t) if t.is_symlink() => path.is_dir(),
            Ok(t) => t.is_dir(),
            Err(_) => path.is_dir(),
        };
        if is_dir {
            dirs.push(path);
        } else {
            files.push(path);
        }
    }
    files.sort();
    dirs.sort();
    Ok((files, dirs))
}

/// `INBOX` for the root; otherwise the relative path with Maildir++ dots undone
/// (`.Archive.2024` becomes `Archive/2024`).
fn maildir_folder_name(root: &Path, dir: &Path) -> String {
    let Ok(rel) = dir.strip_prefix(root) else {
        return dir.display().to_string();
    };
    let parts: Vec<String> = rel
        .components()
        .map(|c| {
            let name = c.as_os_str().to_string_lossy();
            match name.strip_prefix('.') {
                Some(plus) => plus.replace('.', "/"),
                None => name.into_owned(),
            }
        })
        .collect();
    if parts.is_empty() {
        "INBOX".to_string()
    } else {
        parts.join("/")
    }
}

/// Reads one file as a message, or the quarantine record saying why it could not be.
fn read_mail(path: &Path, origin: Origin, max_message_size: usize) -> Item {
    let unreadable = |e: std::io::Error| {
        Item::Quarantined(Quarantine::new(
            origin.clone(),
            QuarantineReason::Unreadable,
            e.to_string(),
            0,
            &[],
        ))
    };
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return unreadable(e),
    };
    let size = file.metadata().map_or(0, |m| m.len());
    if size > max_message_size as u64 {
        let mut head = vec![0u8; FIRST_BYTES];
        let n = super::read_up_to(&mut file, &mut head).unwrap_or(0);
        return Item::Quarantined(Quarantine::too_large(
            origin,
            max_message_size,
            size,
            &head[..n],
        ));
    }
    // Read the size the file has, plus one byte to notice growth, so a file that is not
    // growing costs one read call rather than a read and an end-of-file probe.
    let mut bytes = vec![0u8; size as usize + 1];
    match super::read_up_to(&mut file, &mut bytes) {
        Ok(n) if n <= size as usize => {
            bytes.truncate(n);
            Item::Mail(RawMail::new(origin, bytes))
        }
        Ok(_) => {
            // The file grew while we read it: take what it holds now, within the limit.
            let mut rest = Vec::new();
            match (&mut file)
                .take(max_message_size as u64 + 1)
                .read_to_end(&mut rest)
            {
                Ok(_) => {
                    bytes.extend_from_slice(&rest);
                    if bytes.len() > max_message_size {
                        let len = bytes.len() as u64;
                        Item::Quarantined(Quarantine::too_large(
                            origin,
                            max_message_size,
                            len,
                            &bytes,
                        ))
                    } else {
                        Item::Mail(RawMail::new(origin, bytes))
                    }
                }
                Err(e) => unreadable(e),
            }
        }
        Err(e) => unreadable(e),
    }
}

/// A Maildir root: `cur/` and `new/` of the root and of every nested folder.
pub struct MaildirTree {
    walk: Walk,
    max_message_size: usize,
}

impl MaildirTree {
    /// Opens a Maildir root; fails if it is not a folder.
    pub fn open(root: &Path, max_message_size: usize) -> Result<Self> {
        check_dir(root)?;
        Ok(MaildirTree {
            walk: Walk::new(root, true),
            max_message_size,
        })
    }
}

impl Iterator for MaildirTree {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        let found = match self.walk.next_file()? {
            Ok(f) => f,
            Err(e) => return Some(Err(e)),
        };
        let file = file_name(&found.path).to_string();
        let folder = found.folder.unwrap_or_default();
        let origin = Origin::Maildir {
            root: self.walk.root.clone(),
            folder: folder.clone(),
            file: file.clone(),
        };
        let mut item = read_mail(&found.path, origin, self.max_message_size);
        if let Item::Mail(mail) = &mut item {
            // The unique part of a Maildir name: what comes before the `:2,FLAGS` info.
            let unique = file.split(':').next().unwrap_or(&file);
            mail.id = Some(unique.to_string());
            mail.folder = Some(folder);
        }
        Some(Ok(item))
    }
}

/// A folder tree of `.eml` files, or a single `.eml` file.
pub struct EmlTree {
    walk: Option<Walk>,
    single: Option<PathBuf>,
    root: PathBuf,
    max_message_size: usize,
}

impl EmlTree {
    /// Opens a folder tree, or one file.
    pub fn open(root: &Path, max_message_size: usize) -> Result<Self> {
        let meta = fs::metadata(root).map_err(|e| Error::io(root, e))?;
        let (walk, single) = if meta.is_dir() {
            (Some(Walk::new(root, false)), None)
        } else {
            (None, Some(root.to_path_buf()))
        };
        Ok(EmlTree {
            walk,
            single,
            root: root.to_path_buf(),
            max_message_size,
        })
    }
}

impl Iterator for EmlTree {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = match (&mut self.walk, self.single.take()) {
            (_, Some(path)) => path,
            (Some(walk), None) => match walk.next_file()? {
                Ok(f) => f.path,
                Err(e) => return Some(Err(e)),
            },
            (None, None) => return None,
        };
        let mut item = read_mail(
            &path,
            Origin::Eml { path: path.clone() },
            self.max_message_size,
        );
        if let Item::Mail(mail) = &mut item {
            // The path below the root without `.eml`: stable across machines and checkouts.
            let rel = path.strip_prefix(&self.root).unwrap_or(&path);
            let rel = if rel.as_os_str().is_empty() {
                Path::new(file_name(&path))
            } else {
                rel
            };
            mail.id = Some(rel.with_extension("").to_string_lossy().into_owned());
        }
        Some(Ok(item))
    }
}

fn check_dir(path: &Path) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(Error::BadSource {
            spec: path.display().to_string(),
            reason: "a Maildir source must be a folder (with cur/ and new/, or sub-folders \
                     that have them)"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn maildir_walk_keeps_folder_names_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(&root.join("cur/1:2,S"), b"Subject: a\n\nroot\n");
        write(&root.join(".Archive.2024/new/2"), b"Subject: b\n\nplus\n");
        write(&root.join("Work/cur/3:2,"), b"Subject: c\n\nnested\n");
        write(&root.join("Work/tmp/4"), b"Subject: d\n\nin tmp: skipped\n");
        let items: Vec<_> = MaildirTree::open(root, 1 << 20)
            .unwrap()
            .map(|i| match i.unwrap() {
                Item::Mail(m) => (m.folder.unwrap(), m.id.unwrap()),
                Item::Quarantined(q) => panic!("{q:?}"),
            })
            .collect();
        assert_eq!(
            items,
            vec![
                ("INBOX".to_string(), "1".to_string()),
                ("Archive/2024".to_string(), "2".to_string()),
                ("Work".to_string(), "3".to_string()),
            ]
        );
    }

    #[test]
    fn eml_tree_reads_only_eml_files_and_quarantines_big_ones() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a/1.eml"), b"Subject: a\n\nx\n");
        write(&dir.path().join("a/notes.txt"), b"not mail");
        write(&dir.path().join("b/2.EML"), &vec![b'z'; 4096]);
        let items: Vec<_> = EmlTree::open(dir.path(), 1024)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[0], Item::Mail(m) if m.id.as_deref() == Some("a/1")));
        assert!(matches!(&items[1],
            Item::Quarantined(q) if q.reason == QuarantineReason::TooLarge && q.size == 4096));
    }
}
