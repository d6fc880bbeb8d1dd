//! The control plane: ECS semantics over the state store and the task runtime.
