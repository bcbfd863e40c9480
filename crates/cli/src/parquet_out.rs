//! Decisions as Parquet, for Spark and other columnar tools.
//!
//! One row per message: `id`, `fingerprint`, `review`, `model_version`, `findings` (JSON),
//! then per head `HEAD_label`, `HEAD_probability`, `HEAD_review`, `HEAD_alternatives` (JSON)
//! and `HEAD_reasons` (JSON). Flat columns (no dots, no nesting) read directly in Spark SQL.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::{BooleanBuilder, Float32Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use mailtriage_core::triage::Decision;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// Writes decisions batch by batch; `finish` writes the footer.
pub struct DecisionWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    schema: SchemaRef,
    heads: usize,
}

impl<W: Write + Send> DecisionWriter<W> {
    /// A writer for a model with these head names.
    pub fn new(out: W, heads: &[String]) -> anyhow::Result<Self> {
        let mut fields = vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("fingerprint", DataType::Utf8, false),
            Field::new("review", DataType::Boolean, false),
            Field::new("model_version", DataType::Utf8, false),
            Field::new("findings", DataType::Utf8, false),
        ];
        for head in heads {
            fields.push(Field::new(format!("{head}_label"), DataType::Utf8, true));
            fields.push(Field::new(
                format!("{head}_probability"),
                DataType::Float32,
                true,
            ));
            fields.push(Field::new(
                format!("{head}_review"),
                DataType::Boolean,
                true,
            ));
            fields.push(Field::new(
                format!("{head}_alternatives"),
                DataType::Utf8,
                true,
            ));
            fields.push(Field::new(format!("{head}_reasons"), DataType::Utf8, true));
        }
        let schema = Arc::new(Schema::new(fields));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(props))
            .context("cannot start the Parquet writer")?;
        Ok(DecisionWriter {
            writer,
            schema,
            heads: heads.len(),
        })
    }

    /// Appends decisions as one row group batch.
    pub fn write(&mut self, decisions: &[Decision]) -> anyhow::Result<()> {
        if decisions.is_empty() {
            return Ok(());
        }
        let n = decisions.len();
        let mut id = StringBuilder::with_capacity(n, n * 32);
        let mut fingerprint = StringBuilder::with_capacity(n, n * 32);
        let mut review = BooleanBuilder::with_capacity(n);
        let mut version = StringBuilder::with_capacity(n, n * 16);
        let mut findings = StringBuilder::with_capacity(n, n * 32);
        let mut label: Vec<StringBuilder> = (0..self.heads).map(|_| StringBuilder::new()).collect();
        let mut probability: Vec<Float32Builder> =
            (0..self.heads).map(|_| Float32Builder::new()).collect();
        let mut head_review: Vec<BooleanBuilder> =
            (0..self.heads).map(|_| BooleanBuilder::new()).collect();
        let mut alternatives: Vec<StringBuilder> =
            (0..self.heads).map(|_| StringBuilder::new()).collect();
        let mut reasons: Vec<StringBuilder> =
            (0..self.heads).map(|_| StringBuilder::new()).collect();
        for d in decisions {
            id.append_value(&d.id);
            fingerprint.append_value(&d.fingerprint);
            review.append_value(d.review);
            version.append_value(&d.model_version);
            findings.append_value(serde_json::to_string(&d.findings)?);
            for h in 0..self.heads {
                if let Some(hd) = d.heads.get(h) {
                    label[h].append_value(&hd.label);
                    probability[h].append_value(hd.probability);
                    head_review[h].append_value(hd.review);
                    alternatives[h].append_value(serde_json::to_string(&hd.alternatives)?);
                    reasons[h].append_value(serde_json::to_string(&hd.reasons)?);
                } else {
                    label[h].append_null();
                    probability[h].append_null();
                    head_review[h].append_null();
                    alternatives[h].append_null();
                    reasons[h].append_null();
                }
            }
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(fingerprint.finish()),
            Arc::new(review.finish()),
            Arc::new(version.finish()),
            Arc::new(findings.finish()),
        ];
        for h in 0..self.heads {
            columns.push(Arc::new(label[h].finish()));
            columns.push(Arc::new(probability[h].finish()));
            columns.push(Arc::new(head_review[h].finish()));
            columns.push(Arc::new(alternatives[h].finish()));
            columns.push(Arc::new(reasons[h].finish()));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .context("cannot build a Parquet batch")?;
        self.writer
            .write(&batch)
            .context("cannot write Parquet rows")?;
        Ok(())
    }

    /// Writes the footer; the file is complete only after this.
    pub fn finish(self) -> anyhow::Result<()> {
        self.writer
            .close()
            .context("cannot finish the Parquet file")?;
        Ok(())
    }
}
