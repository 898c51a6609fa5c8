//! The contract's JSON shape as serde types: what the reference decoder reads, and what an
//! [`Event`](super::Event) is written as (to checkpoints and test output). The engine's event is
//! the compact form in `super`; this is its exchange form.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

use super::{ActorType, AttrValue, CaseInfo, GrantInfo, Outcome};
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: SmolStr,
    pub time: Timestamp,
    pub action: SmolStr,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "is_default")]
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub source: Source,
    #[serde(default, skip_serializing_if = "is_default")]
    pub auth: Auth,
    #[serde(default)]
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Boxed, as are grants: only context events carry them, and the event is moved often.
    pub case: Option<Box<CaseInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Box<GrantInfo>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<SmolStr, AttrValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    pub id: SmolStr,
    #[serde(rename = "type")]
    pub kind: ActorType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<SmolStr>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<SmolStr>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SmolStr>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Auth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jit_grant: Option<SmolStr>,
}

/// Whether a part is all absent fields, so that it is left out as the producer would.
fn is_default<T: Default + PartialEq>(part: &T) -> bool {
    *part == T::default()
}
