//! The member names of every object in the model, read from serde itself: a probe
//! deserializer walks a type once, recording the `fields` that `#[derive(Deserialize)]`
//! passes to `deserialize_struct` and the marker newtypes (`markers`) it meets. So the
//! names used for "did you mean" and for sorting skipped members can never drift from
//! the model.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::de::value::{BorrowedStrDeserializer, Error};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};

use super::markers;
use super::path;

/// What a marker-typed member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    OutputOnly,
    Unsupported,
}

/// Keyed by path pattern (`containerDefinitions[].portMappings[]`, see `path::pattern`).
#[derive(Debug, Default)]
pub(super) struct Schema {
    structs: BTreeMap<String, &'static [&'static str]>,
    markers: BTreeMap<String, Marker>,
}

impl Schema {
    /// The schema of `T`, walked once.
    pub(super) fn of<T: DeserializeOwned>() -> Self {
        let schema = RefCell::new(Schema::default());
        let walked = T::deserialize(Probe {
            schema: &schema,
            path: String::new(),
        });
        // Only a model type the probe cannot walk fails here, never input; the unit tests
        // walk every model type, so this cannot ship broken.
        debug_assert!(
            walked.is_ok(),
            "the schema probe cannot walk {}: {:?}",
            std::any::type_name::<T>(),
            walked.err()
        );
        schema.into_inner()
    }

    /// The member names of the object at `pattern`, in declaration order.
    pub(super) fn fields(&self, pattern: &str) -> Option<&'static [&'static str]> {
        self.structs.get(pattern).copied()
    }

    pub(super) fn marker(&self, pattern: &str) -> Option<Marker> {
        self.markers.get(pattern).copied()
    }
}

/// Answers every request with the simplest value of the asked type, and descends into
/// each struct field, `Option` and list element.
struct Probe<'s> {
    schema: &'s RefCell<Schema>,
    path: String,
}

impl<'s> Probe<'s> {
    fn at(&self, path: String) -> Probe<'s> {
        Probe {
            schema: self.schema,
            path,
        }
    }
}

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = Error;

    /// Free-form values (`serde_json::Value`, the cpu/memory adapters) take `null`.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bool(false)
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i64(0)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i64(0)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i64(0)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i64(0)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(0)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(0)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(0)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(0)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f64(0.0)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f64(0.0)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_char(' ')
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str("")
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str("")
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bytes(&[])
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bytes(&[])
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let marker = match name {
            markers::OUTPUT_ONLY => Some(Marker::OutputOnly),
            markers::UNSUPPORTED => Some(Marker::Unsupported),
            _ => None,
        };
        if let Some(marker) = marker {
            self.schema
                .borrow_mut()
                .markers
                .insert(self.path.clone(), marker);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let element = self.at(path::item(&self.path));
        visitor.visit_seq(Elements(Some(element)))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    /// Maps (`dockerLabels`, `options`) have free-form keys: nothing to record.
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Members {
            probe: self,
            names: &[],
            next: 0,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.schema
            .borrow_mut()
            .structs
            .insert(self.path.clone(), fields);
        visitor.visit_map(Members {
            probe: self,
            names: fields,
            next: 0,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match variants.first() {
            Some(first) => visitor.visit_enum(IntoDeserializer::<Error>::into_deserializer(*first)),
            None => Err(de::Error::custom("an enum without variants")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// Every field of a struct, once, each probed at its own path.
struct Members<'s> {
    probe: Probe<'s>,
    names: &'static [&'static str],
    next: usize,
}

impl<'de> MapAccess<'de> for Members<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.names.get(self.next) {
            Some(name) => seed
                .deserialize(BorrowedStrDeserializer::new(name))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let name = self
            .names
            .get(self.next)
            .ok_or_else(|| de::Error::custom("a value without a key"))?;
        self.next += 1;
        seed.deserialize(self.probe.at(path::child(&self.probe.path, name)))
    }
}

/// A list of one element.
struct Elements<'s>(Option<Probe<'s>>);

impl<'de> SeqAccess<'de> for Elements<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .take()
            .map(|probe| seed.deserialize(probe))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskdef::TaskDefinition;

    #[test]
    fn records_every_struct_and_marker_of_the_model() {
        let schema = Schema::of::<TaskDefinition>();
        let task = schema.fields("").expect("the task definition");
        assert!(task.contains(&"containerDefinitions") && task.contains(&"taskDefinitionArn"));
        let container = schema
            .fields("containerDefinitions[]")
            .expect("a container");
        assert!(container.contains(&"environment") && container.contains(&"ulimits"));
        for nested in [
            "containerDefinitions[].environment[]",
            "containerDefinitions[].portMappings[]",
            "containerDefinitions[].logConfiguration",
            "containerDefinitions[].dependsOn[]",
            "volumes[].host",
            "ephemeralStorage",
            "tags[]",
        ] {
            assert!(schema.fields(nested).is_some(), "{nested}: {schema:?}");
        }
        assert_eq!(schema.marker("revision"), Some(Marker::OutputOnly));
        assert_eq!(
            schema.marker("containerDefinitions[].ulimits"),
            Some(Marker::Unsupported)
        );
        assert_eq!(schema.marker("family"), None);
    }
}
