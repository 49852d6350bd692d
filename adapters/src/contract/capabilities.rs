//! The capabilities an adapter declares, so the gateway only asks what an adapter can answer
//! (search fan-out skips adapters without `search`, the HTTP API mounts only `serve` routes).

use std::fmt;

/// One thing an adapter can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Send our passports to the data space.
    Publish,
    /// Read one remote passport by its remote id.
    Fetch,
    /// List or search remote passports, page by page.
    Search,
    /// Mount inbound routes that partners call.
    Serve,
    /// Run a request/response negotiation with a partner (e.g. asking a supplier for its CFP).
    Negotiate,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 5] = [
        Capability::Publish,
        Capability::Fetch,
        Capability::Search,
        Capability::Serve,
        Capability::Negotiate,
    ];

    /// Lowercase name, as used in config and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Publish => "publish",
            Capability::Fetch => "fetch",
            Capability::Search => "search",
            Capability::Serve => "serve",
            Capability::Negotiate => "negotiate",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The set of capabilities an adapter declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// See [`Capability::Publish`].
    pub publish: bool,
    /// See [`Capability::Fetch`].
    pub fetch: bool,
    /// See [`Capability::Search`].
    pub search: bool,
    /// See [`Capability::Serve`].
    pub serve: bool,
    /// See [`Capability::Negotiate`].
    pub negotiate: bool,
}

impl Capabilities {
    /// No capability at all (what a compiled-out adapter declares).
    pub const NONE: Capabilities = Capabilities {
        publish: false,
        fetch: false,
        search: false,
        serve: false,
        negotiate: false,
    };

    /// Whether `capability` is declared.
    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::Publish => self.publish,
            Capability::Fetch => self.fetch,
            Capability::Search => self.search,
            Capability::Serve => self.serve,
            Capability::Negotiate => self.negotiate,
        }
    }

    /// The declared capabilities, in [`Capability::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        Capability::ALL.into_iter().filter(|c| self.has(*c))
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Capability::as_str).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_capabilities_are_listed_in_order() {
        let caps = Capabilities {
            search: true,
            publish: true,
            ..Capabilities::NONE
        };
        assert_eq!(caps.to_string(), "publish,search");
        assert!(!caps.has(Capability::Negotiate));
        assert_eq!(Capabilities::NONE.iter().count(), 0);
    }
}
