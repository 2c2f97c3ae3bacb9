//! ONNX's protobuf messages, read field by field: `ModelProto` (graph, metadata),
//! `GraphProto` (nodes, initializers, inputs), `NodeProto`, `AttributeProto`, `TensorProto`.

use std::collections::HashMap;

use super::{Attr, Const, ConstData, Node};
use crate::protobuf::{Fields, Value};

pub(super) struct RawModel {
    pub nodes: Vec<Node>,
    pub initializers: HashMap<String, Const>,
    pub inputs: Vec<String>,
    pub metadata: HashMap<String, String>,
}

type Parse<T> = std::result::Result<T, String>;

fn text(bytes: &[u8]) -> Parse<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a name is not UTF-8".to_string())
}

pub(super) fn read_model(bytes: &[u8]) -> Parse<RawModel> {
    let mut model = RawModel {
        nodes: Vec::new(),
        initializers: HashMap::new(),
        inputs: Vec::new(),
        metadata: HashMap::new(),
    };
    let mut graph = None;
    let mut fields = Fields::new(bytes);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (7, Value::Bytes(g)) => graph = Some(g),
            (14, Value::Bytes(entry)) => {
                let (mut key, mut val) = (String::new(), String::new());
                let mut f = Fields::new(entry);
                while let Some((n, v)) = f.next_field()? {
                    match (n, v) {
                        (1, Value::Bytes(b)) => key = text(b)?,
                        (2, Value::Bytes(b)) => val = text(b)?,
                        _ => {}
                    }
                }
                model.metadata.insert(key, val);
            }
            _ => {}
        }
    }
    let graph = graph.ok_or("it has no graph")?;
    let mut fields = Fields::new(graph);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (1, Value::Bytes(n)) => model.nodes.push(read_node(n)?),
            (5, Value::Bytes(t)) => {
                let (name, c) = read_tensor(t)?;
                model.initializers.insert(name, c);
            }
            (11, Value::Bytes(v)) => {
                let mut f = Fields::new(v);
                while let Some((n, v)) = f.next_field()? {
                    if let (1, Value::Bytes(b)) = (n, v) {
                        model.inputs.push(text(b)?);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(model)
}

fn read_node(bytes: &[u8]) -> Parse<Node> {
    let mut node = Node {
        index: 0,
        op: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attrs: HashMap::new(),
    };
    let mut fields = Fields::new(bytes);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (1, Value::Bytes(b)) => node.inputs.push(text(b)?),
            (2, Value::Bytes(b)) => node.outputs.push(text(b)?),
            (4, Value::Bytes(b)) => node.op = text(b)?,
            (5, Value::Bytes(b)) => {
                let (name, attr) = read_attr(b)?;
                if let Some(attr) = attr {
                    node.attrs.insert(name, attr);
                }
            }
            _ => {}
        }
    }
    Ok(node)
}

fn read_attr(bytes: &[u8]) -> Parse<(String, Option<Attr>)> {
    let mut name = String::new();
    let (mut ints, mut floats) = (Vec::new(), Vec::new());
    let mut single = None;
    let mut kind = 0;
    let mut fields = Fields::new(bytes);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (1, Value::Bytes(b)) => name = text(b)?,
            (2, Value::Fixed32(x)) => single = Some(Attr::Float(f32::from_bits(x))),
            (3, Value::Varint(x)) => single = Some(Attr::Int(x as i64)),
            (4, Value::Bytes(b)) => {
                single = Some(Attr::Str(String::from_utf8_lossy(b).into_owned()))
            }
            (5, Value::Bytes(b)) => single = Some(Attr::Tensor(read_tensor(b)?.1)),
            (7, Value::Fixed32(x)) => floats.push(f32::from_bits(x)),
            (7, Value::Bytes(b)) => floats.extend(packed_f32(b)?),
            (8, Value::Varint(x)) => ints.push(x as i64),
            (8, Value::Bytes(b)) => ints.extend(packed_varints(b)?.into_iter().map(|x| x as i64)),
            (20, Value::Varint(k)) => kind = k,
            _ => {}
        }
    }
    // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7.
    let attr = match kind {
        6 => Some(Attr::Floats(floats)),
        7 => Some(Attr::Ints(ints)),
        _ => single,
    };
    Ok((name, attr))
}

fn packed_varints(bytes: &[u8]) -> Parse<Vec<u64>> {
    let mut f = Fields::new(bytes);
    let mut out = Vec::new();
    while !f.is_empty() {
        out.push(f.varint()?);
    }
    Ok(out)
}

fn packed_f32(bytes: &[u8]) -> Parse<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err("a packed float array has a partial value".into());
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// TensorProto → (name, constant). Data types: FLOAT 1, INT32 6, INT64 7, DOUBLE 11.
fn read_tensor(bytes: &[u8]) -> Parse<(String, Const)> {
    let (mut dims, mut name, mut kind, mut raw) = (Vec::new(), String::new(), 0, None);
    let (mut floats, mut ints, mut doubles) = (Vec::new(), Vec::new(), Vec::new());
    let mut fields = Fields::new(bytes);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (1, Value::Varint(d)) => dims.push(d),
            (1, Value::Bytes(b)) => dims.extend(packed_varints(b)?),
            (2, Value::Varint(k)) => kind = k,
            (4, Value::Fixed32(x)) => floats.push(f32::from_bits(x)),
            (4, Value::Bytes(b)) => floats.extend(packed_f32(b)?),
            (5 | 7, Value::Varint(x)) => ints.push(x as i64),
            (5 | 7, Value::Bytes(b)) => {
                ints.extend(packed_varints(b)?.into_iter().map(|x| x as i64))
            }
            (8, Value::Bytes(b)) => name = text(b)?,
            (9, Value::Bytes(b)) => raw = Some(b),
            (10, Value::Bytes(b)) => doubles.extend(
                b.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32),
            ),
            _ => {}
        }
    }
    let dims: Vec<usize> = dims
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| format!("tensor {name} has a negative dimension")))
        .collect::<Parse<_>>()?;
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("tensor {name} is too large"))?;
    let data = match (kind, raw) {
        (1, Some(b)) => ConstData::F32(packed_f32(b)?),
        (1, None) => ConstData::F32(floats),
        (11, Some(b)) => ConstData::F32(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
        ),
        (11, None) => ConstData::F32(doubles),
        (7, Some(b)) => ConstData::I64(
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        (6, Some(b)) => ConstData::I64(
            b.chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
                .collect(),
        ),
        (6 | 7, None) => ConstData::I64(ints),
        // Other types (bool, uint8, …) are kept without values: no port takes them as weights.
        _ => ConstData::I64(Vec::new()),
    };
    let len = match &data {
        ConstData::F32(v) => v.len(),
        ConstData::I64(v) => v.len(),
    };
    if matches!(kind, 1 | 6 | 7 | 11) && len != count {
        return Err(format!(
            "tensor {name} holds {len} values for shape {dims:?} ({count})"
        ));
    }
    Ok((name, Const { dims, data }))
}
