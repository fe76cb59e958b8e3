use super::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/files/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn read(name: &str) -> (FileKind, String) {
    to_markdown(&fixture(name), name, FileLimits::default()).unwrap()
}

#[test]
fn pdf_text_from_every_page() {
    let (kind, md) = read("report.pdf");
    assert_eq!(kind, FileKind::Pdf);
    assert!(md.contains("Quarterly Operations Report"), "{md}");
    assert!(md.contains("4,200 pallets of lavender soap"), "{md}");
    assert!(md.contains("night shift grows from twelve to eighteen"), "{md}");
}

#[test]
fn docx_headings_lists_and_tables() {
    let (kind, md) = read("handbook.docx");
    assert_eq!(kind, FileKind::Docx);
    assert!(md.contains("# Employee Handbook\n"), "{md}");
    assert!(md.contains("## Vacation policy\n"), "{md}");
    assert!(md.contains("twenty-six days of paid vacation"), "{md}");
    assert!(md.contains("- Unused days carry over"), "{md}");
    assert!(md.contains("| Seniority | Extra days |\n| --- | --- |\n| 5 years | 2 |"), "{md}");
}

#[test]
fn csv_rows_keep_their_header() {
    let (kind, md) = read("inventory.csv");
    assert_eq!(kind, FileKind::Csv);
    assert!(md.contains("## Row 2\n\nsku: CB-220\nproduct: Cedar bath oil\nwarehouse: Lyon\nstock: 310\n"), "{md}");
}

#[test]
fn html_main_content_markdown_and_text() {
    let (kind, md) = read("faq.html");
    assert_eq!(kind, FileKind::Html);
    assert!(md.contains("## How do I reset my password?"), "{md}");
    assert!(!md.contains("boilerplate"), "{md}");
    assert_eq!(read("notes.md").0, FileKind::Markdown);
    let (kind, md) = read("readme.txt");
    assert_eq!(kind, FileKind::Text);
    assert!(md.contains("every night at 02:00 UTC"));
}

#[test]
fn type_is_decided_by_content() {
    // A PDF named .txt is a PDF; an image named .pdf is refused.
    assert_eq!(detect(&fixture("report.pdf"), "notes.txt").unwrap(), FileKind::Pdf);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    assert!(matches!(to_markdown(&png, "photo.pdf", FileLimits::default()), Err(FileError::Unsupported(m)) if m.contains("PNG")));
    let zip = {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file::<_, ()>("data.txt", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut w, b"hello").unwrap();
        w.finish().unwrap();
        buf.into_inner()
    };
    assert!(matches!(detect(&zip, "x.docx"), Err(FileError::Unsupported(_))));
}

#[test]
fn limits_and_broken_files() {
    let limits = FileLimits { max_bytes: 100, ..Default::default() };
    assert_eq!(to_markdown(&fixture("handbook.docx"), "h.docx", limits).unwrap_err(), FileError::TooLarge(100));
    let mut broken = fixture("report.pdf");
    broken.truncate(200);
    assert!(matches!(to_markdown(&broken, "r.pdf", FileLimits::default()), Err(FileError::Unreadable(_))));
    assert_eq!(to_markdown(b"   \n\n", "empty.txt", FileLimits::default()).unwrap_err(), FileError::Empty);
    let bomb_limits = FileLimits { max_bytes: 1 << 30, max_uncompressed: 1000 };
    assert!(matches!(to_markdown(&fixture("handbook.docx"), "h.docx", bomb_limits), Err(FileError::TooLarge(1000))));
}
