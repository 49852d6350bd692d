//! Mock data spaces, usable in-process from tests or standalone through the `dpp-mock` binary.
//!
//! The pieces every mock shares: a server whose connections a handler can cut
//! ([`server`]), seeded fault injection ([`faults`]) and a small deterministic RNG.

pub mod faults;
pub mod ouranos;
pub mod server;

mod rng;

use std::path::Path;

use crate::suite::DataSpace;

/// A mock data space started in-process for the demo, with the partner registration that
/// reaches it (the gateway's `POST /api/v1/partners` body; secrets written as files into the
/// gateway's secrets directory and referenced by name, never inline).
pub struct DemoMock {
    /// The data space it plays.
    pub data_space: DataSpace,
    /// The registration of a partner pointing at it.
    pub registration: serde_json::Value,
    running: RunningMock,
}

enum RunningMock {
    Ouranos(ouranos::MockOuranos),
}

impl DemoMock {
    /// Starts the mock of `data_space` on 127.0.0.1 (a free port) with demo credentials.
    pub async fn start(
        data_space: DataSpace,
        secrets_dir: &Path,
        partner_name: &str,
    ) -> std::io::Result<DemoMock> {
        match data_space {
            DataSpace::Ouranos => {
                const CLIENT_ID: &str = "dpp-gateway-demo";
                let secret = format!("demo-secret-{}", uuid::Uuid::new_v4().simple());
                let mock = ouranos::MockOuranos::start(
                    ouranos::MockConfig::default().with_client(CLIENT_ID, &secret),
                )
                .await?;
                let write = |name: &str, value: &str| -> std::io::Result<String> {
                    let file = format!("{partner_name}.{name}");
                    std::fs::write(secrets_dir.join(&file), value)?;
                    Ok(file)
                };
                let operator_id = mock.operator_id(CLIENT_ID).unwrap_or_default();
                let plant_id = mock
                    .plant_ids(CLIENT_ID)
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                let registration = serde_json::json!({
                    "name": partner_name,
                    "type": data_space.as_str(),
                    "endpoint": mock.base_url(),
                    "settings": {
                        "api_key": { "file": write("apikey", mock.api_key())? },
                        "operator_id": operator_id,
                        "plant_id": plant_id,
                        "auth": {
                            "mode": "client",
                            "client_id": CLIENT_ID,
                            "client_secret": { "file": write("secret", &secret)? }
                        }
                    },
                    "allowedHosts": ["127.0.0.1"]
                });
                Ok(DemoMock {
                    data_space,
                    registration,
                    running: RunningMock::Ouranos(mock),
                })
            }
        }
    }

    /// The mock's base URL.
    pub fn base_url(&self) -> String {
        match &self.running {
            RunningMock::Ouranos(m) => m.base_url(),
        }
    }

    /// Stops the mock.
    pub async fn shutdown(self) {
        match self.running {
            RunningMock::Ouranos(m) => m.shutdown().await,
        }
    }
}
