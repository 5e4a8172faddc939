//! What a user of the host can plant around lunet's pin root, record and locks, and that it
//! cannot make root delete, overwrite or use anything. The attacker's part runs in a child
//! dropped to nobody (lunet_testkit::nobody); root only sets up victims and checks them.

use std::ffi::CString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use lunet_bpf::pin::{self, PinRoot, PinRootError};
use lunet_bpf::safe_fs::{Dir, FsError, LockError};
use lunet_testkit::nobody::{self, NOBODY};

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

/// A root-owned 0700 directory full of files: what the attacker wants deleted.
struct Victim {
    dir: tempfile::TempDir,
}

impl Victim {
    fn new() -> Victim {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("file{i}")), b"precious").unwrap();
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        Victim { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn assert_intact(&self) {
        for i in 0..5 {
            let f = self.path().join(format!("file{i}"));
            assert_eq!(
                std::fs::read(&f).unwrap_or_default(),
                b"precious",
                "{} was deleted or changed",
                f.display()
            );
        }
    }
}

/// A path in bpffs' top directory (mode 1777) for this test, removed (never followed) on
/// drop, whoever made it.
struct InBpffs(PathBuf);

impl InBpffs {
    fn new(tag: &str) -> InBpffs {
        pin::ensure_bpffs().unwrap();
        InBpffs(PathBuf::from(format!(
            "/sys/fs/bpf/lunet-test-safefs-{tag}-{}",
            std::process::id()
        )))
    }
}

impl Drop for InBpffs {
    fn drop(&mut self) {
        // std's remove_dir_all does not follow links; a link itself is removed as a file.
        if std::fs::remove_file(&self.0).is_err() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn a_pin_root_a_user_made_with_a_link_to_a_directory_is_refused_and_nothing_is_deleted() {
    lunet_testkit::require_root!("a child dropped to nobody, and bpffs");
    let victim = Victim::new();
    let root = InBpffs::new("userroot");
    let link = root.0.join("fw");
    let (root_c, link_c, target_c) = (c(&root.0), c(&link), c(victim.path()));
    // SAFETY: the child only makes the raw calls of lunet_testkit::nobody.
    let (code, _) = unsafe {
        nobody::as_nobody(|_| {
            if !nobody::mkdir(&root_c, 0o755) {
                return 1;
            }
            if !nobody::symlink(&target_c, &link_c) {
                return 2;
            }
            0
        })
    };
    assert_eq!(code, 0, "nobody could plant the root and its link");

    let removed = pin::remove_state_dir(&link);
    let e = removed.expect_err("a root owned by nobody is refused");
    let text = e.to_string();
    assert!(
        matches!(e, FsError::Owner { uid: NOBODY, .. })
            && text.contains(&*root.0.to_string_lossy()),
        "{text}"
    );
    assert!(pin::make_state_dir(&link).is_err());
    match PinRoot::take(&root.0) {
        Err(PinRootError::Unsafe(FsError::Owner { uid: NOBODY, .. })) => {}
        other => panic!("the daemon's root is refused, got {other:?}"),
    }
    victim.assert_intact();
}

#[test]
fn a_link_in_lunets_own_pin_root_is_removed_itself_never_followed() {
    lunet_testkit::require_root!("a root-owned pin root");
    let victim = Victim::new();
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("pins");
    pin::make_state_dir(&root.join("other")).unwrap();
    let meta = std::fs::metadata(&root).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o700,
        "the root is made 0700"
    );
    assert_eq!(meta.uid(), 0);
    // Only root can write in its 0700 root: this link stands for a bug elsewhere in root's
    // own code, and is not followed either.
    std::os::unix::fs::symlink(victim.path(), root.join("fw")).unwrap();
    std::fs::write(root.join("other").join("map1"), b"pin").unwrap();
    std::os::unix::fs::symlink(victim.path(), root.join("other").join("inner")).unwrap();

    pin::remove_state_dir(&root.join("fw")).unwrap();
    assert!(
        std::fs::symlink_metadata(root.join("fw")).is_err(),
        "the link is gone"
    );
    victim.assert_intact();
    assert!(root.join("other").exists(), "another state's pins stay");

    pin::remove_state_dir(&root.join("other")).unwrap();
    victim.assert_intact();
    assert!(!root.exists(), "the root goes with its last state's pins");
}

#[test]
fn a_pin_root_that_is_a_link_or_behind_a_users_link_is_refused() {
    lunet_testkit::require_root!("a child dropped to nobody, and bpffs");
    let victim = Victim::new();
    let as_root = InBpffs::new("linkroot");
    let via = InBpffs::new("linkdir");
    let (a, b, target) = (c(&as_root.0), c(&via.0), c(victim.path()));
    // SAFETY: the child only makes the raw calls of lunet_testkit::nobody.
    let (code, _) = unsafe {
        nobody::as_nobody(|_| {
            if !nobody::symlink(&target, &a) || !nobody::symlink(&target, &b) {
                return 1;
            }
            0
        })
    };
    assert_eq!(code, 0);
    // The root itself is the link.
    match pin::remove_state_dir(&as_root.0.join("fw")) {
        Err(FsError::Link(p)) => assert_eq!(p, as_root.0),
        other => panic!("a root that is a link is refused, got {other:?}"),
    }
    assert!(PinRoot::take(&as_root.0).is_err());
    // A user's link on the way to the root.
    match pin::make_state_dir(&via.0.join("lunet").join("fw")) {
        Err(FsError::Owner {
            path, uid: NOBODY, ..
        }) => assert_eq!(path, via.0),
        other => panic!("a user's link on the way is refused, got {other:?}"),
    }
    victim.assert_intact();
    assert!(
        !victim.path().join("lunet").exists(),
        "nothing was made there"
    );
}

#[test]
fn root_owned_links_on_the_way_are_followed_and_a_root_others_can_write_is_refused() {
    lunet_testkit::require_root!("root-owned directories");
    let base = tempfile::tempdir().unwrap();
    let real = base.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink("real", base.path().join("alias")).unwrap();
    let state = base.path().join("alias/pins/fw");
    pin::make_state_dir(&state).unwrap();
    assert!(real.join("pins/fw").is_dir());
    pin::remove_state_dir(&state).unwrap();
    assert!(!real.join("pins").exists());

    let open = base.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    match pin::make_state_dir(&open.join("fw")) {
        Err(FsError::Writable { mode: 0o777, .. }) => {}
        other => panic!("a root others can write is refused, got {other:?}"),
    }
    // A root lunet made before, with the umask's 0755, is narrowed to 0700.
    let old = base.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    pin::make_state_dir(&old.join("fw")).unwrap();
    let mode = std::fs::metadata(&old).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(matches!(
        Dir::open(Path::new("relative/path")),
        Err(FsError::BadPath { .. })
    ));
}

#[test]
fn a_record_is_replaced_not_written_through_a_link_and_a_foreign_one_is_not_read() {
    lunet_testkit::require_root!("a child dropped to nobody");
    let base = tempfile::tempdir().unwrap();
    let victim_file = base.path().join("victim");
    std::fs::write(&victim_file, b"precious").unwrap();
    // A directory every user can write in, like /tmp.
    let shared = base.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (link, foreign, target) = (
        c(&shared.join("rec.json")),
        c(&shared.join("foreign.json")),
        c(&victim_file),
    );
    // SAFETY: the child only makes the raw calls of lunet_testkit::nobody.
    let (code, _) = unsafe {
        nobody::as_nobody(|_| {
            if !nobody::symlink(&target, &link) {
                return 1;
            }
            if !nobody::create_file(&foreign, b"[{\"name\":\"x\"}]") {
                return 2;
            }
            0
        })
    };
    assert_eq!(code, 0);
    // The daemon keeps its record in a directory of its own: this one is refused outright.
    match Dir::open(&shared) {
        Err(FsError::Writable { .. }) => {}
        other => panic!("a directory others can write is refused, got {other:?}"),
    }
    // And files in one are refused one by one.
    let (parent, name) = Dir::parent_of(&shared.join("x")).unwrap();
    assert_eq!(name, "x");
    let dir = parent;
    assert!(matches!(
        dir.read_file("rec.json".as_ref(), 1 << 20),
        Err(FsError::Link(_))
    ));
    assert!(matches!(
        dir.read_file("foreign.json".as_ref(), 1 << 20),
        Err(FsError::Owner { uid: NOBODY, .. })
    ));
    dir.write_atomic("rec.json".as_ref(), b"[]", 0o600).unwrap();
    assert_eq!(std::fs::read(&victim_file).unwrap(), b"precious");
    let meta = std::fs::symlink_metadata(shared.join("rec.json")).unwrap();
    assert!(meta.is_file() && meta.uid() == 0, "the link was replaced");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        dir.read_file("rec.json".as_ref(), 1 << 20)
            .unwrap()
            .unwrap(),
        b"[]"
    );
    assert!(matches!(
        dir.read_file("rec.json".as_ref(), 1),
        Err(FsError::TooBig { max: 1, .. })
    ));
    let leftovers: Vec<_> = dir
        .names()
        .unwrap()
        .into_iter()
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_second_lock_on_the_same_file_names_the_holder() {
    let base = tempfile::tempdir().unwrap();
    let dir = Dir::open(base.path()).unwrap().expect("the tempdir exists");
    let held = dir.lock(".lock".as_ref()).unwrap();
    let text = std::fs::read_to_string(base.path().join(".lock")).unwrap();
    assert_eq!(text.trim(), std::process::id().to_string());
    match dir.lock(".lock".as_ref()) {
        Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("the second lock fails, got {other:?}"),
    }
    held.unlink().unwrap();
    drop(held);
    let again = dir.lock(".lock".as_ref()).unwrap();
    drop(again);
}

#[test]
fn a_socket_bound_under_with_umask_is_private_from_the_start() {
    let base = tempfile::tempdir().unwrap();
    let path = base.path().join("s.sock");
    let listener =
        lunet_bpf::safe_fs::with_umask(0o177, || std::os::unix::net::UnixListener::bind(&path))
            .unwrap()
            .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    drop(listener);
}
