package openvpn

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"edgebox/api/vpnapi"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// MaxUploadSize bounds an upload, archive or not.
const MaxUploadSize = vpnapi.MaxUploadSize

// maxArchiveFiles bounds the entries of an archive upload.
const maxArchiveFiles = 64

// ParseUpload turns an upload into a normalised profile. A lone .ovpn/.conf
// must carry its keys inline; a tar (optionally gzipped) or zip archive holds
// one .ovpn/.conf plus the files it names, which are inlined.
func ParseUpload(data []byte, filename string) (*Profile, error) {
	if len(data) > MaxUploadSize {
		return nil, fmt.Errorf("upload is larger than %d bytes", MaxUploadSize)
	}
	if len(data) == 0 {
		return nil, errors.New("upload is empty")
	}
	var files map[string][]byte
	var err error
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		files, err = readZip(data)
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		var zr *gzip.Reader
		zr, err = gzip.NewReader(bytes.NewReader(data))
		if err == nil {
			files, err = readTar(zr)
		}
	case len(data) > 262 && string(data[257:262]) == "ustar":
		files, err = readTar(bytes.NewReader(data))
	default:
		return ParseProfile(data, path.Base(filename), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Base(filename), err)
	}
	var configs []string
	for name := range files {
		if ext := path.Ext(name); ext == ".ovpn" || ext == ".conf" {
			configs = append(configs, name)
		}
	}
	sort.Strings(configs)
	configs = withoutReferenced(configs, files)
	switch len(configs) {
	case 0:
		return nil, fmt.Errorf("%s: the archive holds no .ovpn or .conf file", path.Base(filename))
	case 1:
	default:
		return nil, fmt.Errorf("%s: the archive holds several configs (%s); upload one", path.Base(filename), strings.Join(configs, ", "))
	}
	cfg := configs[0]
	rest := make(map[string][]byte, len(files))
	for k, v := range files {
		if k != cfg {
			rest[k] = v
		}
	}
	return ParseProfile(files[cfg], cfg, rest)
}

// keepEntry skips folders and the clutter desktop archivers add.
func keepEntry(name string) (string, bool) {
	name = path.Clean("/" + name)[1:]
	if name == "" || strings.HasPrefix(name, "__MACOSX/") || strings.HasPrefix(path.Base(name), "._") {
		return "", false
	}
	return name, true
}

func readTar(r io.Reader) (map[string][]byte, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(io.LimitReader(r, 4*MaxUploadSize))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name, ok := keepEntry(h.Name)
		if !ok {
			continue
		}
		if err := addFile(files, name, tr, h.Size); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func readZip(data []byte) (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("read zip: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		name, ok := keepEntry(f.Name)
		if !ok {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("read zip %s: %w", f.Name, err)
		}
		err = addFile(files, name, rc, int64(f.UncompressedSize64))
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// addFile reads one entry, never more than MaxProfileSize, whatever its
// header claims (a zip bomb lies about sizes).
func addFile(files map[string][]byte, name string, r io.Reader, size int64) error {
	if len(files) >= maxArchiveFiles {
		return fmt.Errorf("the archive holds more than %d files", maxArchiveFiles)
	}
	if size > MaxProfileSize {
		return errTooLarge(name)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxProfileSize+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > MaxProfileSize {
		return errTooLarge(name)
	}
	if _, dup := files[name]; dup {
		return fmt.Errorf("the archive holds %s twice", name)
	}
	total := len(data)
	for _, d := range files {
		total += len(d)
	}
	if total > 4*MaxUploadSize {
		return fmt.Errorf("the archive unpacks to more than %d bytes", 4*MaxUploadSize)
	}
	files[name] = data
	return nil
}

// withoutReferenced drops from configs the files another config names in a
// directive, such as the login.conf of "auth-user-pass login.conf": they
// are that config's files, not configs of their own.
func withoutReferenced(configs []string, files map[string][]byte) []string {
	named := map[string]bool{}
	for _, c := range configs {
		for _, line := range strings.Split(string(files[c]), "\n") {
			toks, err := tokenize(line)
			if err != nil || len(toks) < 2 || allowed[strings.TrimPrefix(toks[0], "--")] != fileArg {
				continue
			}
			named[toks[1][strings.LastIndexAny(toks[1], `/\`)+1:]] = true
		}
	}
	var out []string
	for _, c := range configs {
		if !named[path.Base(c)] {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return configs // they all name each other: let the error list them
	}
	return out
}
