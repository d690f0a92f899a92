//! Tools under the person's control: the policy that decides on a call (Allow · Ask · Off,
//! limits, pins) and the names a model is given for them.

pub mod activity;
pub mod gate;
pub mod names;
pub mod policy;
