package image

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"edgebox/internal/kmod"
)

// StageModules copies the named modules and everything they depend on from
// the kernel's module tree into dst (lib/modules/VERSION of the initramfs)
// and writes a modules.dep and a modules.alias for exactly those, so init
// resolves and matches hardware the same way.
func StageModules(k Kernel, names []string, dst string, log io.Writer) (int, error) {
	src := k.ModulesDir()
	f, err := os.Open(filepath.Join(src, "modules.dep"))
	if err != nil {
		return 0, err
	}
	deps, err := kmod.ParseDeps(f)
	f.Close()
	if err != nil {
		return 0, err
	}
	builtin, err := os.ReadFile(filepath.Join(src, "modules.builtin"))
	if err == nil {
		deps.ParseBuiltin(strings.NewReader(string(builtin)))
	}
	files, missing, err := deps.Resolve(names)
	if err != nil {
		return 0, err
	}
	if len(missing) > 0 {
		fmt.Fprintf(log, "mkimage: modules not in kernel %s (boards will log them): %s\n", k.Version, strings.Join(missing, " "))
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return 0, err
	}
	shipped := map[string]bool{}
	for _, file := range files {
		shipped[file] = true
		if err := copyFile(filepath.Join(src, file), filepath.Join(dst, file), 0o644); err != nil {
			return 0, err
		}
	}
	// modules.dep for the shipped subset, in depmod's format.
	full, err := os.ReadFile(filepath.Join(src, "modules.dep"))
	if err != nil {
		return 0, err
	}
	var lines []string
	for _, l := range strings.Split(string(full), "\n") {
		mod, _, ok := strings.Cut(l, ":")
		if ok && shipped[strings.TrimSpace(mod)] {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	if err := os.WriteFile(filepath.Join(dst, "modules.dep"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return 0, err
	}
	if builtin != nil {
		os.WriteFile(filepath.Join(dst, "modules.builtin"), builtin, 0o644)
	}
	if err := stageAliases(src, dst, files); err != nil {
		return 0, err
	}
	// modules.softdep orders libcrc32c and ext4 after crc32c (init honours
	// its "pre:" names among the shipped modules).
	if soft, err := os.ReadFile(filepath.Join(src, "modules.softdep")); err == nil {
		if err := os.WriteFile(filepath.Join(dst, "modules.softdep"), soft, 0o644); err != nil {
			return 0, err
		}
	}
	return len(files), nil
}

// stageAliases writes modules.alias with the patterns of the shipped
// modules only: init matches present hardware against it, and a match for
// a module the image does not carry would only be an error at every boot.
func stageAliases(src, dst string, files []string) error {
	f, err := os.Open(filepath.Join(src, "modules.alias"))
	if err != nil {
		return err
	}
	all, err := kmod.ParseAliases(f)
	f.Close()
	if err != nil {
		return err
	}
	shipped := map[string]bool{}
	for _, file := range files {
		shipped[kmod.Name(file)] = true
	}
	out, err := os.Create(filepath.Join(dst, "modules.alias"))
	if err != nil {
		return err
	}
	if _, err := all.Filter(func(m string) bool { return shipped[m] }).WriteTo(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
