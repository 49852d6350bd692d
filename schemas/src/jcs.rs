//! RFC 8785 JSON Canonicalization Scheme (JCS), fast enough for the signing hot path.
//!
//! `serde_jcs` buffers every object member and re-parses every key; here a typed struct whose
//! fields are declared in JCS order (every struct in [`crate::model`]) is written in one pass,
//! straight into the output buffer. Key order is still *checked* as members are written: when a
//! struct or map (a `serde_json::Value` object keeps insertion order in this workspace, because
//! `serde_json/preserve_order` is on) delivers its members out of order, the members already
//! written are reordered in place when the object closes. So any `Serialize` value canonicalises
//! correctly, and the ordered case never pays for sorting.
//!
//! Numbers follow ECMAScript `Number.prototype.toString` (via `ryu_js`); integers are JSON
//! numbers, i.e. IEEE 754 doubles, so integers beyond 2^53 are written as the double they round
//! to, exactly as a JavaScript JCS implementation would. Strings use JSON's minimal escaping,
//! which is what `serde_json` writes (short forms for `\b \f \n \r \t`, lowercase `\u00xx` for
//! the other control characters, nothing else escaped).
//!
//! ```
//! let bytes = dpp_schemas::jcs::value_to_vec(&serde_json::json!({"b": 1.0, "a": [1e21, "é"]}))?;
//! assert_eq!(bytes, r#"{"a":[1e+21,"é"],"b":1}"#.as_bytes());
//! # Ok::<(), dpp_schemas::jcs::JcsError>(())
//! ```

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Display;
use std::io;

use serde::Serialize;
use serde::ser::{self, Impossible};
use serde_json::ser::{CompactFormatter, Formatter};

/// Why a value cannot be canonicalised.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JcsError {
    /// NaN and infinities have no JSON form.
    #[error("non-finite number {0} cannot be canonicalised")]
    NonFiniteNumber(f64),
    /// An object key that is not a string (nor an integer, char or bool written as one).
    #[error("object key must be a string")]
    KeyMustBeString,
    /// The same key twice in one object.
    #[error("duplicate object key {0:?}")]
    DuplicateKey(String),
    /// Writing the output failed.
    #[error("writing canonical json failed")]
    Io(#[from] io::Error),
    /// A `Serialize` implementation reported an error.
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for JcsError {
    fn custom<T: Display>(msg: T) -> Self {
        Self::Custom(msg.to_string())
    }
}

/// Canonical JSON bytes of `value`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, JcsError> {
    let mut ser = JcsSerializer::new();
    value.serialize(&mut ser)?;
    Ok(ser.out)
}

/// [`to_vec`], also naming every struct whose fields had to be reordered (a struct declared
/// out of JCS order); the model's structs must never appear here.
#[cfg(test)]
pub(crate) fn to_vec_with_reordered_structs<T: Serialize + ?Sized>(
    value: &T,
) -> Result<(Vec<u8>, Vec<&'static str>), JcsError> {
    let mut ser = JcsSerializer::new();
    value.serialize(&mut ser)?;
    Ok((ser.out, ser.reordered_structs))
}

/// Canonical JSON of `value` as a `String`.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, JcsError> {
    let bytes = to_vec(value)?;
    // Only `str`s and ASCII are ever written, so this cannot fail.
    String::from_utf8(bytes).map_err(|e| JcsError::Custom(e.to_string()))
}

/// Writes the canonical JSON of `value` to `writer` (built in memory first: an object whose
/// members arrive out of order is reordered before anything reaches the writer).
pub fn to_writer<W: io::Write, T: Serialize + ?Sized>(
    mut writer: W,
    value: &T,
) -> Result<(), JcsError> {
    writer.write_all(&to_vec(value)?)?;
    Ok(())
}

/// Canonical JSON bytes of an untyped value (object keys sorted by UTF-16 code units).
pub fn value_to_vec(value: &serde_json::Value) -> Result<Vec<u8>, JcsError> {
    to_vec(value)
}

/// Compares two object keys the way RFC 8785 §3.2.3 orders them: by UTF-16 code units.
///
/// UTF-8 byte order equals code-point order, which differs from UTF-16 order only between
/// supplementary characters and U+E000..U+FFFF, so plain byte comparison is exact for ASCII.
pub fn cmp_keys(a: &str, b: &str) -> Ordering {
    if a.is_ascii() || b.is_ascii() {
        // One side ASCII: the first difference is at an ASCII unit on that side, where UTF-8
        // and UTF-16 agree.
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// A `serde_json` formatter that writes numbers the JCS way. Strings keep `serde_json`'s
/// escaping, which is already the JCS one.
#[derive(Debug, Clone, Copy, Default)]
pub struct JcsFormatter;

/// Largest magnitude up to which every integer is an exact double (and JavaScript prints it
/// digit for digit).
const MAX_SAFE: u64 = 1 << 53;

impl Formatter for JcsFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        if !value.is_finite() {
            return Err(io::Error::other("non-finite number"));
        }
        if value == 0.0 {
            // -0 is written as 0 (ECMAScript ToString).
            return writer.write_all(b"0");
        }
        let mut buf = ryu_js::Buffer::new();
        writer.write_all(buf.format_finite(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    fn write_i64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: i64) -> io::Result<()> {
        if value.unsigned_abs() <= MAX_SAFE {
            CompactFormatter.write_i64(writer, value)
        } else {
            #[allow(clippy::cast_precision_loss)] // JSON numbers are doubles: intended
            self.write_f64(writer, value as f64)
        }
    }

    fn write_u64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: u64) -> io::Result<()> {
        if value <= MAX_SAFE {
            CompactFormatter.write_u64(writer, value)
        } else {
            #[allow(clippy::cast_precision_loss)]
            self.write_f64(writer, value as f64)
        }
    }

    fn write_i128<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: i128) -> io::Result<()> {
        #[allow(clippy::cast_precision_loss)]
        match i64::try_from(value) {
            Ok(v) => self.write_i64(writer, v),
            Err(_) => self.write_f64(writer, value as f64),
        }
    }

    fn write_u128<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: u128) -> io::Result<()> {
        #[allow(clippy::cast_precision_loss)]
        match u64::try_from(value) {
            Ok(v) => self.write_u64(writer, v),
            Err(_) => self.write_f64(writer, value as f64),
        }
    }

    fn write_number_str<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        value: &str,
    ) -> io::Result<()> {
        let parsed: f64 = value.parse().map_err(io::Error::other)?;
        self.write_f64(writer, parsed)
    }
}

/// One object member already written: `out[start..end]` is `"key":value`.
struct Member {
    key: Cow<'static, str>,
    start: usize,
    end: usize,
}

struct JcsSerializer {
    out: Vec<u8>,
    /// Members of every object still open, innermost last (one shared stack: no allocation per
    /// object).
    members: Vec<Member>,
    /// Structs whose fields arrived out of JCS order (slow path taken; only tests look).
    #[cfg_attr(not(test), allow(dead_code))]
    reordered_structs: Vec<&'static str>,
}

impl JcsSerializer {
    fn new() -> Self {
        Self {
            out: Vec::with_capacity(1024),
            members: Vec::new(),
            reordered_structs: Vec::new(),
        }
    }

    fn json(&mut self) -> serde_json::Serializer<&mut Vec<u8>, JcsFormatter> {
        serde_json::Serializer::with_formatter(&mut self.out, JcsFormatter)
    }

    fn write_f64(&mut self, v: f64) -> Result<(), JcsError> {
        if !v.is_finite() {
            return Err(JcsError::NonFiniteNumber(v));
        }
        JcsFormatter.write_f64(&mut self.out, v)?;
        Ok(())
    }

    fn write_str(&mut self, v: &str) -> Result<(), JcsError> {
        ser::Serializer::serialize_str(&mut self.json(), v).map_err(json_err)
    }

    fn open_object(&mut self) -> Object<'_> {
        self.out.push(b'{');
        Object {
            start: self.out.len(),
            first_member: self.members.len(),
            ordered: true,
            wrapper: None,
            struct_name: None,
            ser: self,
        }
    }
}

fn json_err(e: serde_json::Error) -> JcsError {
    JcsError::Custom(e.to_string())
}

/// An open object (a struct, a map, or the body of a struct variant).
struct Object<'a> {
    ser: &'a mut JcsSerializer,
    /// Offset just after `{`.
    start: usize,
    /// Index of this object's first member on the shared stack.
    first_member: usize,
    /// Whether the members so far arrived in JCS order.
    ordered: bool,
    /// Set for an enum variant's body: the `{"Variant":…}` wrapper to close after this one
    /// (its stack depth; a one-member object never needs reordering).
    wrapper: Option<usize>,
    /// The type name when this object is a struct.
    struct_name: Option<&'static str>,
}

impl Object<'_> {
    fn begin_member(&mut self, key: Cow<'static, str>) -> Result<(), JcsError> {
        let members = &self.ser.members;
        if members.len() > self.first_member {
            if self.ordered
                && members
                    .last()
                    .is_some_and(|last| cmp_keys(&last.key, &key) != Ordering::Less)
            {
                self.ordered = false;
            }
            self.ser.out.push(b',');
        }
        let start = self.ser.out.len();
        self.ser.write_str(&key)?;
        self.ser.out.push(b':');
        self.ser.members.push(Member { key, start, end: 0 });
        Ok(())
    }

    fn end_member(&mut self) {
        let end = self.ser.out.len();
        if let Some(m) = self.ser.members.last_mut() {
            m.end = end;
        }
    }

    fn member<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), JcsError> {
        self.begin_member(key)?;
        value.serialize(&mut *self.ser)?;
        self.end_member();
        Ok(())
    }

    fn close(self) -> Result<(), JcsError> {
        let ser = self.ser;
        if !self.ordered {
            if let Some(name) = self.struct_name {
                ser.reordered_structs.push(name);
            }
            let members = &mut ser.members[self.first_member..];
            members.sort_by(|a, b| cmp_keys(&a.key, &b.key));
            if let Some(w) = members.windows(2).find(|w| w[0].key == w[1].key) {
                return Err(JcsError::DuplicateKey(w[0].key.to_string()));
            }
            let mut sorted = Vec::with_capacity(ser.out.len() - self.start);
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    sorted.push(b',');
                }
                sorted.extend_from_slice(&ser.out[m.start..m.end]);
            }
            ser.out.truncate(self.start);
            ser.out.extend_from_slice(&sorted);
        }
        ser.members.truncate(self.first_member);
        ser.out.push(b'}');
        ser.close_wrapper(self.wrapper);
        Ok(())
    }
}

/// An open array (a sequence, a tuple, or the body of a tuple variant).
struct Array<'a> {
    ser: &'a mut JcsSerializer,
    first: bool,
    /// As [`Object::wrapper`].
    wrapper: Option<usize>,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JcsError> {
        if !self.first {
            self.ser.out.push(b',');
        }
        self.first = false;
        value.serialize(&mut *self.ser)
    }

    fn close(self) -> Result<(), JcsError> {
        self.ser.out.push(b']');
        self.ser.close_wrapper(self.wrapper);
        Ok(())
    }
}

impl JcsSerializer {
    /// Opens `{"variant":` and returns the stack depth to close it at.
    fn open_wrapper(&mut self, variant: &'static str) -> Result<usize, JcsError> {
        let mut wrapper = self.open_object();
        wrapper.begin_member(Cow::Borrowed(variant))?;
        Ok(wrapper.first_member)
    }

    fn close_wrapper(&mut self, wrapper: Option<usize>) {
        if let Some(depth) = wrapper {
            self.members.truncate(depth);
            self.out.push(b'}');
        }
    }
}

impl<'a> ser::Serializer for &'a mut JcsSerializer {
    type Ok = ();
    type Error = JcsError;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), JcsError> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), JcsError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), JcsError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), JcsError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), JcsError> {
        JcsFormatter.write_i64(&mut self.out, v)?;
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), JcsError> {
        JcsFormatter.write_i128(&mut self.out, v)?;
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), JcsError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), JcsError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), JcsError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), JcsError> {
        JcsFormatter.write_u64(&mut self.out, v)?;
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), JcsError> {
        JcsFormatter.write_u128(&mut self.out, v)?;
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), JcsError> {
        self.write_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), JcsError> {
        self.write_f64(v)
    }
    fn serialize_char(self, v: char) -> Result<(), JcsError> {
        self.write_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), JcsError> {
        self.write_str(v)
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), JcsError> {
        ser::Serializer::collect_str(&mut self.json(), value).map_err(json_err)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), JcsError> {
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for b in v {
            seq.element(b)?;
        }
        seq.close()
    }
    fn serialize_none(self) -> Result<(), JcsError> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), JcsError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), JcsError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), JcsError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), JcsError> {
        self.write_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), JcsError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), JcsError> {
        let mut object = self.open_object();
        object.member(Cow::Borrowed(variant), value)?;
        object.close()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a>, JcsError> {
        self.out.push(b'[');
        Ok(Array {
            ser: self,
            first: true,
            wrapper: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Array<'a>, JcsError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Array<'a>, JcsError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Array<'a>, JcsError> {
        let wrapper = self.open_wrapper(variant)?;
        self.out.push(b'[');
        Ok(Array {
            ser: self,
            first: true,
            wrapper: Some(wrapper),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>, JcsError> {
        Ok(self.open_object())
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Object<'a>, JcsError> {
        let mut object = self.open_object();
        object.struct_name = Some(name);
        Ok(object)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Object<'a>, JcsError> {
        let wrapper = self.open_wrapper(variant)?;
        let mut body = self.open_object();
        body.wrapper = Some(wrapper);
        body.struct_name = Some(name);
        Ok(body)
    }
}

impl ser::SerializeSeq for Array<'_> {
    type Ok = ();
    type Error = JcsError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JcsError> {
        self.element(value)
    }
    fn end(self) -> Result<(), JcsError> {
        self.close()
    }
}

impl ser::SerializeTuple for Array<'_> {
    type Ok = ();
    type Error = JcsError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JcsError> {
        self.element(value)
    }
    fn end(self) -> Result<(), JcsError> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Array<'_> {
    type Ok = ();
    type Error = JcsError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JcsError> {
        self.element(value)
    }
    fn end(self) -> Result<(), JcsError> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Array<'_> {
    type Ok = ();
    type Error = JcsError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JcsError> {
        self.element(value)
    }
    fn end(self) -> Result<(), JcsError> {
        self.close()
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = JcsError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), JcsError> {
        let key = key.serialize(KeyCapture)?;
        self.begin_member(Cow::Owned(key))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JcsError> {
        value.serialize(&mut *self.ser)?;
        self.end_member();
        Ok(())
    }
    fn end(self) -> Result<(), JcsError> {
        self.close()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = JcsError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), JcsError> {
        self.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), JcsError> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = JcsError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), JcsError> {
        self.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), JcsError> {
        self.close()
    }
}

/// Turns a map key into the string JSON writes for it (as `serde_json` does: strings, chars,
/// integers and bools).
struct KeyCapture;

impl ser::Serializer for KeyCapture {
    type Ok = String;
    type Error = JcsError;
    type SerializeSeq = Impossible<String, JcsError>;
    type SerializeTuple = Impossible<String, JcsError>;
    type SerializeTupleStruct = Impossible<String, JcsError>;
    type SerializeTupleVariant = Impossible<String, JcsError>;
    type SerializeMap = Impossible<String, JcsError>;
    type SerializeStruct = Impossible<String, JcsError>;
    type SerializeStructVariant = Impossible<String, JcsError>;

    fn serialize_str(self, v: &str) -> Result<String, JcsError> {
        Ok(v.to_owned())
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<String, JcsError> {
        Ok(value.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_bool(self, v: bool) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _v: f32) -> Result<String, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_f64(self, _v: f64) -> Result<String, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_none(self) -> Result<String, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_unit(self) -> Result<String, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, JcsError> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, JcsError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, JcsError> {
        Err(JcsError::KeyMustBeString)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Map, Number, Value, json};

    use super::*;
    use crate::fixtures;
    use crate::model::*;

    fn reference<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        serde_jcs::to_vec(value).expect("serde_jcs canonicalises")
    }

    fn assert_same<T: Serialize + ?Sized>(value: &T) {
        let ours = to_vec(value).expect("canonicalises");
        let theirs = reference(value);
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
        assert_eq!(ours, theirs);
    }

    /// The module docs of `model` name this test: typed values canonicalise exactly like a
    /// reference JCS implementation, and like their untyped `Value`.
    #[test]
    fn typed_serialisation_equals_reference_jcs() {
        let passports = fixtures::all_passports();
        for p in &passports {
            assert_same(p);
            let value = serde_json::to_value(p).expect("to value");
            assert_eq!(
                to_vec(p).expect("typed"),
                value_to_vec(&value).expect("value")
            );
        }
        assert_same(&passports);
        for e in fixtures::trace_events() {
            assert_same(&e);
        }
        for r in fixtures::collection_records() {
            assert_same(&r);
        }
        assert_same(&maximal_trace_event());
    }

    /// The fast path is really taken: no model struct needs its fields reordered.
    #[test]
    fn model_structs_never_take_the_reordering_path() {
        let mut p = fixtures::pp_new_bumper();
        p.materials.extend(fixtures::abs_housing().materials);
        let (bytes, reordered) = to_vec_with_reordered_structs(&p).expect("jcs");
        assert_eq!(bytes, reference(&p));
        assert!(
            reordered.is_empty(),
            "declared out of JCS order: {reordered:?}"
        );
        let (_, reordered) = to_vec_with_reordered_structs(&maximal_trace_event()).expect("jcs");
        assert!(
            reordered.is_empty(),
            "declared out of JCS order: {reordered:?}"
        );
        for r in fixtures::collection_records() {
            let (_, reordered) = to_vec_with_reordered_structs(&r).expect("jcs");
            assert!(
                reordered.is_empty(),
                "declared out of JCS order: {reordered:?}"
            );
        }
        // And the detector works.
        let unsorted = Unsorted {
            zebra: 1,
            apple: Vec::new(),
            middle: None,
        };
        let (_, reordered) = to_vec_with_reordered_structs(&unsorted).expect("jcs");
        assert_eq!(reordered, ["Unsorted"]);
    }

    /// A trace event with every optional field set (no fixture carries all of them).
    fn maximal_trace_event() -> TraceEvent {
        let q = QuantityElement {
            epc_class: "urn:epc:class:lgtin:4569951.011617.L1".into(),
            quantity: 2.5,
            uom: Some("KGM".into()),
        };
        let mut e = fixtures::trace_events().remove(1);
        e.action = Some(EventAction::Add);
        e.biz_transaction_list = vec![BizTransaction {
            biz_transaction: "urn:epcglobal:cbv:bt:4569951000008:PO-1".into(),
            transaction_type: Some("po".into()),
        }];
        e.child_epcs = vec!["urn:epc:id:sgtin:4569951.011617.1".into()];
        e.child_quantity_list = vec![q.clone()];
        e.epc_list = vec!["urn:epc:id:sgtin:4569951.011617.2".into()];
        e.parent_id = Some("urn:epc:id:sscc:4569951.0000000001".into());
        e.quantity_list = vec![q];
        e.transformation_id = Some("urn:uuid:01933a6e-4800-7000-b000-000000003001".into());
        e.biz_location = Some(Location {
            id: "urn:epc:id:sgln:4569951.00010.0".into(),
        });
        e
    }

    /// Fails when a model struct declares a field out of JCS order (the fast path relies on it).
    /// Independent of this module's serializer: `serde_json` keeps declaration order here.
    #[test]
    fn model_structs_declare_fields_in_jcs_order() {
        fn check(value: &Value, path: &str, skip_below: &[&str]) {
            match value {
                Value::Object(map) => {
                    let keys: Vec<&String> = map.keys().collect();
                    for pair in keys.windows(2) {
                        assert_eq!(
                            cmp_keys(pair[0], pair[1]),
                            Ordering::Less,
                            "{path}: field {:?} is declared before {:?}",
                            pair[0],
                            pair[1]
                        );
                    }
                    for (k, v) in map {
                        let child = format!("{path}/{k}");
                        if !skip_below.contains(&child.as_str()) {
                            check(v, &child, skip_below);
                        }
                    }
                }
                Value::Array(items) => {
                    for (i, v) in items.iter().enumerate() {
                        check(v, &format!("{path}/{i}"), skip_below);
                    }
                }
                _ => {}
            }
        }
        let mut objects_seen = 0;
        for p in fixtures::all_passports() {
            let value = serde_json::to_value(&p).expect("to value");
            assert!(value.is_object(), "preserve_order keeps declaration order");
            // Extension values are free JSON, not model structs.
            let skip: Vec<String> = p
                .extensions
                .keys()
                .map(|k| format!("/extensions/{k}"))
                .collect();
            let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
            check(&value, "", &skip);
            objects_seen += 1;
        }
        for e in fixtures::trace_events()
            .into_iter()
            .chain([maximal_trace_event()])
        {
            check(&serde_json::to_value(&e).expect("to value"), "", &[]);
        }
        for r in fixtures::collection_records() {
            check(&serde_json::to_value(&r).expect("to value"), "", &[]);
        }
        assert_eq!(objects_seen, 6);
        // The check itself must be able to fail.
        let unsorted: Value = serde_json::from_str(r#"{"b":1,"a":2}"#).expect("json");
        let caught = std::panic::catch_unwind(|| check(&unsorted, "", &[]));
        assert!(caught.is_err(), "an unsorted object must be reported");
    }

    #[test]
    fn numbers_follow_ecmascript() {
        let cases: &[(f64, &str)] = &[
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (5e-324, "5e-324"),
            (-0.0, "0"),
            (0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (123456789.125, "123456789.125"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (333_333_333.333_333_3, "333333333.3333333"),
            (9007199254740993.0, "9007199254740992"),
        ];
        for (v, expected) in cases {
            assert_eq!(to_string(v).expect("finite"), *expected, "{v:e}");
            assert_same(v);
        }
        let ints: &[(Value, &str)] = &[
            (json!(9007199254740992u64), "9007199254740992"),
            (json!(9007199254740993u64), "9007199254740992"),
            (json!(u64::MAX), "18446744073709552000"),
            (json!(i64::MIN), "-9223372036854776000"),
            (json!(-42), "-42"),
        ];
        for (v, expected) in ints {
            assert_eq!(to_string(v).expect("int"), *expected);
            assert_same(v);
        }
        // serde_jcs refuses 128-bit integers; they are doubles like any JSON number.
        assert_eq!(
            to_string(&u128::MAX).expect("u128"),
            "3.402823669209385e+38"
        );
        assert_eq!(
            to_string(&i128::MIN).expect("i128"),
            "-1.7014118346046923e+38"
        );
        assert_eq!(to_string(&7u128).expect("u128"), "7");
        assert_same(&1.5f32);
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(to_vec(&v), Err(JcsError::NonFiniteNumber(_))));
        }
        let mut p = fixtures::pp_pellets();
        p.materials[0].mass_fraction = f64::NAN;
        assert!(matches!(to_vec(&p), Err(JcsError::NonFiniteNumber(_))));
    }

    #[test]
    fn strings_escape_as_jcs_requires() {
        let s = "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f}\"\\/é€😀";
        let out = to_string(s).expect("string");
        assert_eq!(
            out,
            "\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\u{7f}\\\"\\\\/é€😀\""
        );
        assert_same(s);
        assert_same(&'\u{1b}');
    }

    #[test]
    fn rfc8785_examples() {
        // RFC 8785 §3.2.2 (values) and §3.2.3 (sorting).
        let input = r#"{
            "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
            "literals": [null, true, false]
        }"#;
        let value: Value = serde_json::from_str(input).expect("json");
        assert_eq!(
            to_string(&value).expect("jcs"),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        let sorting = r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#;
        let value: Value = serde_json::from_str(sorting).expect("json");
        let out = to_string(&value).expect("jcs");
        let order: Vec<&str> = out
            .split("\":\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap_or_default())
            .collect();
        assert_eq!(
            order,
            [
                "Carriage Return",
                "One",
                "Control",
                "Latin Small Letter O With Diaeresis",
                "Euro Sign",
                "Emoji: Grinning Face",
                "Hebrew Letter Dalet With Dagesh"
            ]
        );
        assert_same(&value);
    }

    #[test]
    fn keys_sort_by_utf16_not_utf8() {
        // U+E000 sorts before U+1F600 in UTF-8 and code-point order, after it in UTF-16.
        assert_eq!(cmp_keys("\u{e000}", "\u{1f600}"), Ordering::Greater);
        assert_eq!(cmp_keys("a", "\u{1f600}"), Ordering::Less);
        assert_eq!(cmp_keys("ab", "a"), Ordering::Greater);
        let mut map = BTreeMap::new();
        map.insert("\u{e000}".to_owned(), 1);
        map.insert("\u{1f600}".to_owned(), 2);
        map.insert("z".to_owned(), 3);
        assert_eq!(
            to_string(&map).expect("jcs"),
            "{\"z\":3,\"\u{1f600}\":2,\"\u{e000}\":1}"
        );
        assert_same(&map);
    }

    #[test]
    fn unsorted_extensions_inside_a_passport_are_sorted() {
        let mut p = fixtures::pp_new_bumper();
        let nested: Value = serde_json::from_str(
            r#"{"zeta":{"y":[{"b":1,"a":2}],"x":0.5},"Alpha":"\u0007","émoji😀":true,"10":1,"9":2}"#,
        )
        .expect("json");
        p.extensions.insert("test:nested".into(), nested);
        p.extensions.insert("a-b:c".into(), json!(1e21));
        let out = to_string(&p).expect("jcs");
        assert!(out.contains(r#""test:nested":{"10":1,"9":2,"Alpha":"\u0007","zeta":{"x":0.5,"y":[{"a":2,"b":1}]},"émoji😀":true}"#), "{out}");
        assert_same(&p);
    }

    #[derive(Serialize)]
    enum Variants {
        Unit,
        Newtype(BTreeMap<String, f64>),
        Tuple(u8, f64, String),
        Struct { z: f64, a: Vec<Variants> },
    }

    #[derive(Serialize)]
    struct Unsorted {
        zebra: u8,
        #[serde(rename = "Apple")]
        apple: Vec<Unsorted>,
        middle: Option<Value>,
    }

    #[test]
    fn any_serialize_value_is_canonicalised() {
        let newtype = Variants::Newtype([("b".to_owned(), 2.0), ("a".to_owned(), 0.5)].into());
        let value = vec![
            Variants::Unit,
            newtype,
            Variants::Tuple(7, 1e-7, "t".into()),
            Variants::Struct {
                z: -0.0,
                a: vec![Variants::Unit, Variants::Tuple(1, 2.0, "x".into())],
            },
        ];
        assert_same(&value);
        let unsorted = Unsorted {
            zebra: 1,
            apple: vec![Unsorted {
                zebra: 2,
                apple: Vec::new(),
                middle: None,
            }],
            middle: Some(json!({"k": [1, {"y": 1, "x": 2}]})),
        };
        assert_eq!(
            to_string(&unsorted).expect("jcs"),
            r#"{"Apple":[{"Apple":[],"middle":null,"zebra":2}],"middle":{"k":[1,{"x":2,"y":1}]},"zebra":1}"#
        );
        assert_same(&unsorted);
        let int_keys: BTreeMap<u32, &str> = [(10, "ten"), (9, "nine")].into();
        assert_same(&int_keys);
        let mut out = Vec::new();
        to_writer(&mut out, &unsorted).expect("writer");
        assert_eq!(out, to_vec(&unsorted).expect("vec"));
        assert_same(&(1u8, "two", [3.5f64], ()));
        assert_same(&serde_bytes_like());
    }

    fn serde_bytes_like() -> Vec<Option<bool>> {
        vec![Some(true), None, Some(false)]
    }

    #[test]
    fn duplicate_and_non_string_keys_are_refused() {
        struct Twice;
        impl Serialize for Twice {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use ser::SerializeMap;
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("k", &1)?;
                m.serialize_entry("k", &2)?;
                m.end()
            }
        }
        assert!(matches!(to_vec(&Twice), Err(JcsError::DuplicateKey(k)) if k == "k"));
        let float_keys: Vec<(f64, u8)> = vec![(1.5, 1)];
        let map: std::collections::HashMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        assert!(matches!(to_vec(&map), Err(JcsError::KeyMustBeString)));
        assert!(to_vec(&float_keys).is_ok(), "pairs are arrays, not maps");
    }

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len() as u64) as usize]
        }
        fn float(&mut self) -> f64 {
            match self.below(4) {
                0 => f64::from_bits(self.next()),
                1 => (self.next() as f64) / (self.below(1_000_000) + 1) as f64,
                2 => (self.below(2_000_001) as f64 - 1_000_000.0) / 1000.0,
                _ => *[
                    0.1 + 0.2,
                    1e21,
                    1e-7,
                    5e-324,
                    -0.0,
                    123456789.125,
                    4.35,
                    1e300,
                ]
                .get(self.below(8) as usize)
                .unwrap_or(&0.0),
            }
        }
        fn string(&mut self) -> String {
            const PARTS: &[&str] = &[
                "a", "B", "z", "ä", "€", "😀", "\u{e000}", "\u{fb33}", "\n", "\u{1}", "\"", "\\",
                "/", "1", "10", ":", " ", "\u{7f}", "\u{80}", "ｶ",
            ];
            (0..self.below(5)).map(|_| self.pick(PARTS)).collect()
        }
        fn value(&mut self, depth: u32) -> Value {
            let leaf = depth >= 4;
            match self.below(if leaf { 5 } else { 7 }) {
                0 => Value::Null,
                1 => Value::Bool(self.below(2) == 0),
                2 => {
                    let f = self.float();
                    if f.is_finite() {
                        Number::from_f64(f).map_or(Value::Null, Value::Number)
                    } else {
                        json!(self.next() as i64)
                    }
                }
                3 => json!(self.next() >> self.below(64)),
                4 => Value::String(self.string()),
                5 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
                _ => {
                    let mut map = Map::new();
                    for _ in 0..self.below(6) {
                        map.insert(self.string(), self.value(depth + 1));
                    }
                    Value::Object(map)
                }
            }
        }
    }

    #[test]
    fn generated_values_match_reference_jcs() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2_000 {
            let v = g.value(0);
            assert_same(&v);
        }
    }

    #[test]
    fn generated_passport_variations_match_reference_jcs() {
        let mut g = Gen(42);
        let base = fixtures::all_passports();
        for round in 0..300 {
            let mut p = base[round % base.len()].clone();
            for m in &mut p.materials {
                m.mass_fraction = g.float().abs() % 1.0;
                m.name = g.string();
                if let Some(mass) = &mut m.mass {
                    mass.value = g.float();
                }
            }
            if let Some(cf) = &mut p.carbon_footprint {
                cf.total = g.float();
                cf.stages.processing = g.float();
            }
            p.product.name = format!("{}{}", g.string(), g.string());
            let key = format!("x{}:{}", g.below(10), g.string().len());
            p.extensions.insert(key, g.value(1));
            p.version = g.next() as u32;
            assert_same(&p);
        }
    }
}
