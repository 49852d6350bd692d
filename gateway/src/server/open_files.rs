//! The process's open-file limit and the connection cap that fits under it: every connection is
//! a file, and a process out of files can no longer accept, open its database or call a partner.

/// Files kept free for the rest of the process (database files, partner connections, keys,
/// logs) when the connection cap is fitted to the open-file limit; half the limit when that is
/// smaller.
const RESERVED_FILES: u64 = 256;

/// Raises the soft open-file limit to the hard one (a common default soft limit is 1024, far
/// under what a server needs) and returns the soft limit now in force; `None` where the platform
/// has no such limit or it cannot be read.
pub fn raise_open_file_limit() -> Option<u64> {
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%error, "cannot raise the open-file limit");
    }
    #[cfg(unix)]
    match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _)) => Some(soft),
        Err(error) => {
            tracing::warn!(%error, "cannot read the open-file limit; the connection cap is not fitted to it");
            None
        }
    }
    #[cfg(not(unix))]
    None
}

/// The connection cap that leaves [`RESERVED_FILES`] (or half of `open_file_limit`, if smaller)
/// free: `configured`, or less when the limit is too low for it; at least 1.
pub fn fit_connection_cap(configured: usize, open_file_limit: u64) -> usize {
    let reserve = RESERVED_FILES.min(open_file_limit / 2);
    let fits = open_file_limit.saturating_sub(reserve).max(1);
    usize::try_from(fits).map_or(configured, |fits| configured.min(fits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_files_for_the_rest_of_the_process() {
        assert_eq!(fit_connection_cap(4096, 1_048_576), 4096);
        assert_eq!(fit_connection_cap(4096, 1024), 768);
        assert_eq!(fit_connection_cap(4096, 300), 150);
        assert_eq!(fit_connection_cap(4096, 1), 1);
        assert_eq!(fit_connection_cap(100, u64::MAX), 100);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let limit = raise_open_file_limit();
        #[cfg(unix)]
        {
            let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
            assert_eq!(limit, Some(soft));
            // Linux refuses a soft limit over `fs.nr_open`, so an unlimited hard one stays above.
            assert!(
                soft == hard || hard == rlimit::INFINITY,
                "soft {soft}, hard {hard}"
            );
        }
        #[cfg(not(unix))]
        let _ = limit;
    }
}
