//! Giving back the start-up's resident pages of the executable (DESIGN.md, "The parts and how
//! data flows": the mock providers run beside the gateway under test for hours, and their
//! footprint is part of what a drill costs). Start-up touches code and read-only data that serving never runs again:
//! argument parsing, configuration checks, and the compressed BPE files the tokenizer tables are
//! built from (several MiB of the executable's read-only data, read once). Those pages are
//! clean copies of the file, so unmapping them loses nothing: a page needed later comes back
//! from the page cache on first touch.
//!
//! Only mappings of the executable itself that are read-only and hold no private (copied)
//! page are released; the relocated read-only data (RELRO) holds copied pages and is left
//! alone, as is every writable mapping, so no state can be lost.

/// The executable's read-only mappings with no private page: `(start, length)`.
fn releasable(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
        {
            // A mapping's header: range, permissions, offset, device, inode, path.
            let perms = fields.next().unwrap_or_default();
            let path = fields.nth(3).unwrap_or_default();
            let read_only = perms == "r--p" || perms == "r-xp";
            current = (read_only && path == exe && end > start).then_some((start, end - start));
        } else if first == "Anonymous:"
            && let Some(mapping) = current.take()
            && fields.next() == Some("0")
        {
            out.push(mapping);
        }
    }
    out
}

/// Releases the executable's clean read-only pages; returns how many bytes of mappings were
/// released (zero where the platform has no `/proc`).
pub fn release_startup_pages() -> usize {
    let (Ok(smaps), Ok(exe)) = (std::fs::read_to_string("/proc/self/smaps"), std::fs::read_link("/proc/self/exe"))
    else {
        return 0;
    };
    let mut released = 0;
    for (start, len) in releasable(&smaps, &exe.to_string_lossy()) {
        // SAFETY: the range is a whole mapping of the executable that is read-only and holds
        // no private page (smaps says `Anonymous: 0 kB`), so every page in it is an unmodified
        // copy of the file; MADV_DONTNEED only unmaps those pages, and the next access maps
        // the same bytes again from the file. No Rust reference is invalidated: the memory's
        // contents never change.
        if unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) } == 0 {
            released += len;
        }
    }
    released
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_clean_read_only_mappings_are_released() {
        // Arrange: text and read-only data (clean), RELRO (copied pages), data, a library.
        let smaps = "\
1000-3000 r--p 00000000 fe:00 7 /bin/gd
Anonymous:             0 kB
3000-5000 r-xp 00002000 fe:00 7 /bin/gd
Anonymous:             0 kB
5000-6000 r--p 00004000 fe:00 7 /bin/gd
Anonymous:           504 kB
6000-7000 rw-p 00005000 fe:00 7 /bin/gd
Anonymous:             4 kB
8000-9000 r-xp 00000000 fe:00 9 /lib/libc.so.6
Anonymous:             0 kB
";

        // Act
        let got = releasable(smaps, "/bin/gd");

        // Assert
        assert_eq!(got, vec![(0x1000, 0x2000), (0x3000, 0x2000)]);
    }

    #[test]
    fn releasing_keeps_the_process_working() {
        // Arrange: read-only data the test will read again afterwards.
        static TABLE: [u8; 4] = *b"gate";

        // Act
        let released = release_startup_pages();

        // Assert: something was released on Linux, and the data reads back unchanged.
        if cfg!(target_os = "linux") {
            assert!(released > 0, "the test binary has clean read-only mappings");
        }
        assert_eq!(std::hint::black_box(&TABLE), b"gate");
    }
}
