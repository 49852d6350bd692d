//! The one explicit list of adapters (Quickwit's `StorageResolver::builder()` pattern). An
//! adapter whose Cargo feature is off stays in the list as compiled out, so its config is
//! answered with "compiled without <name>" instead of "unknown type".

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::contract::{
    AdapterContext, AdapterError, AdapterFactory, Capabilities, CheckedConfig, Connection,
    HealthCheck,
};

/// Every adapter this build knows, by config `type`.
pub struct AdapterRegistry {
    entries: BTreeMap<&'static str, Entry>,
}

#[derive(Clone)]
enum Entry {
    Available(Arc<dyn AdapterFactory>),
    CompiledOut,
}

/// Builds an [`AdapterRegistry`].
#[derive(Default)]
pub struct AdapterRegistryBuilder {
    entries: BTreeMap<&'static str, Entry>,
}

impl AdapterRegistryBuilder {
    /// Adds an available adapter.
    pub fn register(mut self, factory: Arc<dyn AdapterFactory>) -> Self {
        self.entries
            .insert(factory.kind(), Entry::Available(factory));
        self
    }

    /// Adds an adapter this binary was built without.
    pub fn register_compiled_out(mut self, kind: &'static str) -> Self {
        self.entries.insert(kind, Entry::CompiledOut);
        self
    }

    /// The registry.
    pub fn build(self) -> AdapterRegistry {
        AdapterRegistry {
            entries: self.entries,
        }
    }
}

/// Registers `$module::factory()` when feature `$feature` is on, else a compiled-out entry.
macro_rules! register_adapter {
    ($builder:expr, $feature:literal, $module:ident) => {{
        #[cfg(feature = $feature)]
        let builder = $builder.register(crate::$module::factory());
        #[cfg(not(feature = $feature))]
        let builder = $builder.register_compiled_out($feature);
        builder
    }};
}

impl AdapterRegistry {
    /// An empty builder.
    pub fn builder() -> AdapterRegistryBuilder {
        AdapterRegistryBuilder::default()
    }

    /// Every adapter of this crate. **The** list: add a new data space here.
    pub fn with_builtin_adapters() -> Self {
        let builder = AdapterRegistry::builder();
        let builder = register_adapter!(builder, "ouranos", ouranos);
        builder.build()
    }

    /// Every known type with its capabilities; `None` for a compiled-out adapter.
    pub fn kinds(&self) -> Vec<(&'static str, Option<Capabilities>)> {
        self.entries
            .iter()
            .map(|(kind, entry)| match entry {
                Entry::Available(f) => (*kind, Some(f.capabilities())),
                Entry::CompiledOut => (*kind, None),
            })
            .collect()
    }

    /// The factory of `kind`.
    pub fn factory(&self, kind: &str) -> Result<&Arc<dyn AdapterFactory>, AdapterError> {
        match self.entries.get(kind) {
            Some(Entry::Available(f)) => Ok(f),
            Some(Entry::CompiledOut) => Err(AdapterError::CompiledOut(kind.to_owned())),
            None => Err(AdapterError::Config(format!(
                "unknown adapter type {kind:?}, known: {}",
                self.entries.keys().copied().collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// Validates a raw config table by its `type` member. Pure.
    pub fn validate(&self, raw: &Value) -> Result<CheckedConfig, AdapterError> {
        let kind = raw
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| AdapterError::Config("missing string member `type`".into()))?;
        self.factory(kind)?.validate(raw)
    }

    /// Builds a connection from a config this registry validated.
    pub async fn build(
        &self,
        checked: CheckedConfig,
        ctx: AdapterContext,
    ) -> Result<(Arc<dyn Connection>, HealthCheck), AdapterError> {
        self.factory(checked.kind())?.build(checked, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compiled_out_adapters_say_so() {
        let registry = AdapterRegistry::builder()
            .register_compiled_out("dataex")
            .build();
        let err = registry.validate(&json!({ "type": "dataex" })).unwrap_err();
        assert!(matches!(&err, AdapterError::CompiledOut(k) if k == "dataex"));
        assert_eq!(err.to_string(), "compiled without dataex");
        assert_eq!(registry.kinds(), vec![("dataex", None)]);
    }

    #[test]
    fn unknown_and_missing_types_are_config_errors() {
        let registry = AdapterRegistry::with_builtin_adapters();
        assert!(matches!(
            registry.validate(&json!({ "type": "carrier-pigeon" })),
            Err(AdapterError::Config(m)) if m.contains("carrier-pigeon") && m.contains("ouranos")
        ));
        assert!(matches!(
            registry.validate(&json!({})),
            Err(AdapterError::Config(_))
        ));
    }

    #[test]
    fn ouranos_is_in_the_builtin_list() {
        let registry = AdapterRegistry::with_builtin_adapters();
        let kinds = registry.kinds();
        let (_, caps) = kinds.iter().find(|(k, _)| *k == "ouranos").unwrap();
        if cfg!(feature = "ouranos") {
            assert!(caps.unwrap().publish);
        } else {
            assert!(caps.is_none());
            let err = registry
                .validate(&json!({ "type": "ouranos" }))
                .unwrap_err();
            assert_eq!(err.to_string(), "compiled without ouranos");
        }
    }
}
