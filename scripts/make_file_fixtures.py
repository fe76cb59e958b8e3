#!/usr/bin/env python3
"""Writes the upload fixtures (a real PDF, DOCX, CSV, HTML, Markdown and text file with known
content) used by the file-extraction and API tests. Run once with the project's venv:

    ~/.cache/kb/venv/bin/pip install python-docx fpdf2
    ~/.cache/kb/venv/bin/python scripts/make_file_fixtures.py shared/tests/fixtures/files
"""
import os
import sys

from docx import Document
from fpdf import FPDF

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

pdf = FPDF()
pdf.add_page()
pdf.set_font("Helvetica", size=16)
pdf.cell(0, 10, "Quarterly Operations Report", new_x="LMARGIN", new_y="NEXT")
pdf.set_font("Helvetica", size=11)
pdf.multi_cell(0, 6, "The warehouse in Rotterdam shipped 4,200 pallets of lavender soap in the third quarter. "
               "Returns fell to 1.3 percent after the new packaging was introduced.")
pdf.add_page()
pdf.multi_cell(0, 6, "Page two explains the staffing plan: the night shift grows from twelve to eighteen pickers.")
pdf.output(os.path.join(out, "report.pdf"))

doc = Document()
doc.add_heading("Employee Handbook", level=1)
doc.add_paragraph("Welcome to the company. This handbook explains how we work.")
doc.add_heading("Vacation policy", level=2)
doc.add_paragraph("Every employee receives twenty-six days of paid vacation per year, booked in the HR portal.")
doc.add_paragraph("Unused days carry over until the end of March.", style="List Bullet")
table = doc.add_table(rows=3, cols=2)
for r, (a, b) in enumerate([("Seniority", "Extra days"), ("5 years", "2"), ("10 years", "5")]):
    table.cell(r, 0).text = a
    table.cell(r, 1).text = b
doc.save(os.path.join(out, "handbook.docx"))

with open(os.path.join(out, "inventory.csv"), "w", encoding="utf-8") as f:
    f.write("sku,product,warehouse,stock\n")
    f.write("LS-100,Lavender soap,Rotterdam,4200\n")
    f.write("CB-220,Cedar bath oil,Lyon,310\n")
    f.write("MS-031,Mint shampoo,Rotterdam,1275\n")

with open(os.path.join(out, "faq.html"), "w", encoding="utf-8") as f:
    f.write("<!doctype html><html><head><title>FAQ</title></head><body><nav>Menu boilerplate</nav><main>"
            "<h1>Frequently asked questions</h1><h2>How do I reset my password?</h2>"
            "<p>Open the account page and choose <em>Forgot password</em>; a reset link arrives within five minutes.</p>"
            "</main><footer>Footer boilerplate</footer></body></html>\n")

with open(os.path.join(out, "notes.md"), "w", encoding="utf-8") as f:
    f.write("# Release notes\n\n## Version 2.4\n\nThe exporter now writes Parquet files and compresses them with zstd.\n")

with open(os.path.join(out, "readme.txt"), "w", encoding="utf-8") as f:
    f.write("Plain text notes.\n\nThe backup job runs every night at 02:00 UTC and keeps thirty copies.\n")
