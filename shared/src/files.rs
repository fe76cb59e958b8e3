//! Uploaded files to markdown: PDF, DOCX, TXT, MD, CSV and HTML. The type is decided by the
//! content (magic bytes, structure), not by the declared name or content type alone, and
//! the structure the format has is kept: headings and tables of DOCX, every CSV row with
//! its header, the main content of HTML.

use std::io::Read as _;

use url::Url;

/// A supported file type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Docx,
    Csv,
    Html,
    Markdown,
    Text,
}

impl FileKind {
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            FileKind::Csv => "text/csv",
            FileKind::Html => "text/html",
            FileKind::Markdown => "text/markdown",
            FileKind::Text => "text/plain",
        }
    }
}

/// Why a file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("unsupported file type: {0} (supported: PDF, DOCX, TXT, MD, CSV, HTML)")]
    Unsupported(String),
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the file cannot be read: {0}")]
    Unreadable(String),
    #[error("the file has no text")]
    Empty,
}

/// Limits applied while reading a file.
#[derive(Clone, Copy, Debug)]
pub struct FileLimits {
    /// Largest upload accepted.
    pub max_bytes: u64,
    /// Largest total uncompressed size of a DOCX (a zip).
    pub max_uncompressed: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self { max_bytes: 25 * 1024 * 1024, max_uncompressed: 200 * 1024 * 1024 }
    }
}

fn extension(name: &str) -> String {
    name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
}

/// Decides the type of a file from its bytes (and, for the text formats, its name).
///
/// # Errors
/// A binary format that is not supported.
pub fn detect(bytes: &[u8], filename: &str) -> Result<FileKind, FileError> {
    let ext = extension(filename);
    if bytes.starts_with(b"%PDF-") {
        return Ok(FileKind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| FileError::Unreadable(e.to_string()))?;
        return if archive.file_names().any(|n| n == "word/document.xml") {
            Ok(FileKind::Docx)
        } else {
            Err(FileError::Unsupported("a zip archive that is not a Word document".to_owned()))
        };
    }
    let head = &bytes[..bytes.len().min(8192)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A multi-byte character cut at the sniffing boundary is still text.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
        Err(_) => return Err(FileError::Unsupported(format!("binary content ({})", describe(bytes)))),
    };
    if text.contains('\0') {
        return Err(FileError::Unsupported(format!("binary content ({})", describe(bytes))));
    }
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") || (matches!(ext.as_str(), "html" | "htm") && lower.contains('<')) {
        return Ok(FileKind::Html);
    }
    Ok(match ext.as_str() {
        "csv" => FileKind::Csv,
        "md" | "markdown" => FileKind::Markdown,
        _ => FileKind::Text,
    })
}

fn describe(bytes: &[u8]) -> String {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG", "PNG image"),
        (b"\xff\xd8\xff", "JPEG image"),
        (b"GIF8", "GIF image"),
        (b"\x1f\x8b", "gzip archive"),
        (b"\x7fELF", "executable"),
        (b"\xd0\xcf\x11\xe0", "legacy Office document"),
    ];
    MAGIC.iter().find(|(m, _)| bytes.starts_with(m)).map_or("unknown binary", |(_, d)| d).to_owned()
}

/// Reads a file into markdown.
///
/// # Errors
/// Too large, unsupported, unreadable or empty.
pub fn to_markdown(bytes: &[u8], filename: &str, limits: FileLimits) -> Result<(FileKind, String), FileError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(FileError::TooLarge(limits.max_bytes));
    }
    let kind = detect(bytes, filename)?;
    let markdown = match kind {
        FileKind::Pdf => pdf(bytes)?,
        FileKind::Docx => docx(bytes, limits)?,
        FileKind::Csv => csv(bytes)?,
        FileKind::Html => {
            let base = Url::parse("upload://file/").expect("static URL");
            crate::crawl::extract::extract(&String::from_utf8_lossy(bytes), &base, &[]).markdown
        }
        FileKind::Markdown | FileKind::Text => String::from_utf8_lossy(bytes).replace("\r\n", "\n"),
    };
    if markdown.chars().filter(|c| c.is_alphanumeric()).take(3).count() < 3 {
        return Err(FileError::Empty);
    }
    Ok((kind, markdown))
}

fn pdf(bytes: &[u8]) -> Result<String, FileError> {
    // The PDF parser panics on some malformed files: a bad upload must not take the
    // process down.
    let text = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pdf_extract::extract_text_from_mem(bytes)))
        .map_err(|_| FileError::Unreadable("malformed PDF".to_owned()))?
        .map_err(|e| FileError::Unreadable(format!("PDF: {e}")))?;
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            if blank == 1 {
                out.push('\n');
            }
            continue;
        }
        blank = 0;
        out.push_str(line);
        out.push('\n');
    }
    Ok(out.trim().to_owned() + "\n")
}

fn docx(bytes: &[u8], limits: FileLimits) -> Result<String, FileError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| FileError::Unreadable(e.to_string()))?;
    // Refuse a zip bomb before inflating it: declared sizes, then the real bytes read.
    let mut total = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| FileError::Unreadable(e.to_string()))?;
        total += entry.size();
        let mut sink = std::io::sink();
        let read = std::io::copy(&mut (&mut entry).take(limits.max_uncompressed + 1), &mut sink)
            .map_err(|e| FileError::Unreadable(e.to_string()))?;
        if total > limits.max_uncompressed || read > limits.max_uncompressed {
            return Err(FileError::TooLarge(limits.max_uncompressed));
        }
    }
    let doc = docx_rs::read_docx(bytes).map_err(|e| FileError::Unreadable(format!("DOCX: {e}")))?;
    let mut out = String::new();
    for child in &doc.document.children {
        match child {
            docx_rs::DocumentChild::Paragraph(p) => paragraph_block(p, &mut out),
            docx_rs::DocumentChild::Table(t) => table_block(t, &mut out),
            _ => {}
        }
    }
    Ok(out)
}

fn paragraph_text(p: &docx_rs::Paragraph) -> String {
    fn runs(children: &[docx_rs::ParagraphChild], out: &mut String) {
        for c in children {
            match c {
                docx_rs::ParagraphChild::Run(r) => {
                    for rc in &r.children {
                        match rc {
                            docx_rs::RunChild::Text(t) => out.push_str(&t.text),
                            docx_rs::RunChild::Tab(_) => out.push(' '),
                            docx_rs::RunChild::Break(_) => out.push(' '),
                            _ => {}
                        }
                    }
                }
                docx_rs::ParagraphChild::Hyperlink(h) => runs(&h.children, out),
                docx_rs::ParagraphChild::Insert(_) => {}
                _ => {}
            }
        }
    }
    let mut s = String::new();
    runs(&p.children, &mut s);
    s.trim().to_owned()
}

fn heading_level(p: &docx_rs::Paragraph) -> Option<usize> {
    let style = p.property.style.as_ref()?.val.to_ascii_lowercase().replace(' ', "");
    if style == "title" {
        return Some(1);
    }
    let n: usize = style.strip_prefix("heading")?.parse().ok()?;
    (1..=6).contains(&n).then_some(n)
}

/// The markdown marker of a list paragraph: numbering on the paragraph itself, or a list style
/// (Word's "List Bullet" / "List Number", whose numbering lives in the style).
fn list_marker(p: &docx_rs::Paragraph) -> Option<&'static str> {
    let style = p.property.style.as_ref().map(|s| s.val.to_ascii_lowercase().replace(' ', "")).unwrap_or_default();
    if style.starts_with("listnumber") {
        Some("1. ")
    } else if style.starts_with("list") || p.has_numbering || p.property.numbering_property.is_some() {
        Some("- ")
    } else {
        None
    }
}

fn paragraph_block(p: &docx_rs::Paragraph, out: &mut String) {
    let text = paragraph_text(p);
    if text.is_empty() {
        return;
    }
    if let Some(level) = heading_level(p) {
        out.push_str(&"#".repeat(level));
        out.push(' ');
    } else if let Some(marker) = list_marker(p) {
        out.push_str(marker);
    }
    out.push_str(&text);
    out.push_str("\n\n");
}

fn table_block(t: &docx_rs::Table, out: &mut String) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for docx_rs::TableChild::TableRow(row) in &t.rows {
        let cells = row
            .cells
            .iter()
            .map(|docx_rs::TableRowChild::TableCell(cell)| {
                cell.children
                    .iter()
                    .filter_map(|c| match c {
                        docx_rs::TableCellContent::Paragraph(p) => Some(paragraph_text(p)),
                        _ => None,
                    })
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
                    .replace('|', "\\|")
            })
            .collect();
        rows.push(cells);
    }
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 {
        return;
    }
    for (i, row) in rows.iter().enumerate() {
        out.push('|');
        for c in 0..width {
            out.push(' ');
            out.push_str(row.get(c).map_or("", String::as_str));
            out.push_str(" |");
        }
        out.push('\n');
        if i == 0 {
            out.push('|');
            out.push_str(&" --- |".repeat(width));
            out.push('\n');
        }
    }
    out.push('\n');
}

/// Every row as its own block of `header: value` lines, so any chunk of it still says what
/// each value is.
fn csv(bytes: &[u8]) -> Result<String, FileError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers: Vec<String> =
        reader.headers().map_err(|e| FileError::Unreadable(format!("CSV: {e}")))?.iter().map(str::to_owned).collect();
    let mut out = String::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| FileError::Unreadable(format!("CSV: {e}")))?;
        out.push_str(&format!("## Row {}\n\n", i + 1));
        for (j, value) in record.iter().enumerate() {
            let header = headers.get(j).map_or_else(|| format!("column {}", j + 1), Clone::clone);
            out.push_str(&format!("{header}: {value}\n"));
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
