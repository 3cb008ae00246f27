#!/usr/bin/env bash
# test_testfiles.sh - ClamAV's own test corpus (Debian clamav-testfiles) with the single
# signature ClamAV uses for it: all 44 files must be detected, each through the layers that
# hide clam.exe in it (the list below; NOT_YET would name a file not read yet, and is checked
# so that a change in either direction is noticed). Usage: test_testfiles.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
DIR=/usr/share/clamav-testfiles
if [ ! -d "$DIR" ]; then
    echo "skipped: $DIR is missing (apt-get install clamav-testfiles)"
    ok "clamav-testfiles (skipped: not installed)"
    # an NSIS installer's file comes out under the name its script extracts it to
check "NSIS file named by its script" grep -qF "clam-nsis.exe//clam.exe: ClamAV-Test-File FOUND" "$T/out"
finish
fi
echo 'aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File' > "$T/test.hdb"

# Formats libarchive reads: these must all be found.
MUST="clam.7z clam.bin-be.cpio clam.bin-le.cpio clam.bz2.zip clam.cab clam.exe clam.exe.bz2
clam.newc.cpio clam.odc.cpio clam.tar.gz clam.zip clam_cache_emax.tgz
clam.mail clam.exe.mbox.base64 clam.exe.mbox.uu
clam.exe.binhex clam.tnef clam.exe.szdd clam.exe.rtf clam.exe.html
clam.ole.doc clam.ppt clam.pdf
clam.arj clam.chm clam.d64.zip clam.impl.zip
clam.sis clam-nsis.exe clam.ea05.exe clam.ea06.exe
clam_IScab_ext.exe clam_IScab_int.exe clam_ISmsi_ext.exe clam_ISmsi_int.exe
clam-upx.exe clam-wwpack.exe clam-yc.exe clam-mew.exe
clam-aspack.exe clam-upack.exe clam-petite.exe clam-fsg.exe clam-pespin.exe"
# All 44 are read (clam-fsg.exe is not FSG-packed: it carries clam.exe verbatim, found by
# the embedded-PE search every PE gets). Mail (MIME, mbox, base64, uuencode), BinHex, TNEF,
# SZDD, RTF \objdata, HTML, OLE2 (.doc Ole10Native, .ppt ExOleObjStg), PDF, ARJ, CHM, the zip
# methods libarchive lacks (deflate64, implode), SIS, the installers in a PE overlay (NSIS,
# AutoIt EA05/EA06, InstallShield file lists, cabinets and MSI-based setups) and the PE packers
# UPX, ASPack, WWPack32, yC, MEW, Upack, Petite and PESpin (executables and ZIPs inside an unpacked image) are read.
NOT_YET=""

"$KHIEN" scan -i --no-summary -d "$T/test.hdb" "$DIR" > "$T/out" 2>&1
grep ' FOUND$' "$T/out" | sed "s|^$DIR/||; s|//.*||; s|:.*||" | sort -u > "$T/found"
for f in $MUST; do
    check "detected: $f" grep -qx -- "$f" "$T/found"
done
ls "$DIR" | sort > "$T/all"
comm -23 "$T/all" "$T/found" > "$T/missing"
echo "$NOT_YET" | tr ' ' '\n' | grep -v '^$' | sort > "$T/notyet"
echo "detected $(wc -l < "$T/found") of $(wc -l < "$T/all"); not yet: $(tr '\n' ' ' < "$T/missing")"
check "all 44 files of clamav-testfiles detected" test "$(wc -l < "$T/found")" -eq 44 -a "$(wc -l < "$T/all")" -eq 44
if cmp -s "$T/missing" "$T/notyet"; then ok "not-yet list is exact"; else
    bad "not-yet list is exact" "now missing but not listed: $(comm -23 "$T/missing" "$T/notyet" | tr '\n' ' ')" \
        "listed but now detected (remove from NOT_YET): $(comm -13 "$T/missing" "$T/notyet" | tr '\n' ' ')"
fi
# an MSI's stream names are packed (two characters a UTF-16 unit): read as the installer names them
check "MSI stream names decoded" grep -qF "clam_ISmsi_int.exe//clam.msi//Data1.cab//clam.exe: ClamAV-Test-File FOUND" "$T/out"
finish
