package pglocal

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ParseVersion reads a PostgreSQL version as a folder name or a program's
// --version line writes it ("17", "9.6", "15.4", "9.6.24", "18beta1") and
// returns it in server_version_num form (170000, 90600, 150004, 90624,
// 180000), or 0 if s does not start with a version. Numbers in that form
// order versions correctly, where strings put "9.6" after "17".
func ParseVersion(s string) int {
	var nums []int
	for _, part := range strings.SplitN(s, ".", 3) {
		end := 0
		for end < len(part) && end < 6 && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, _ := strconv.Atoi(part[:end])
		nums = append(nums, n)
		if end < len(part) { // "17devel", "18beta1": nothing after it counts
			break
		}
	}
	if len(nums) == 0 || nums[0] == 0 {
		return 0
	}
	for len(nums) < 3 {
		nums = append(nums, 0)
	}
	if nums[0] >= 10 { // since 10 a version is major.minor
		return nums[0]*10000 + min(nums[1], 9999)
	}
	return nums[0]*10000 + min(nums[1], 99)*100 + min(nums[2], 99)
}

// FormatVersion writes a server_version_num as PostgreSQL does: 150004 as
// "15.4", 90624 as "9.6.24".
func FormatVersion(v int) string {
	if v >= 100000 {
		return fmt.Sprintf("%d.%d", v/10000, v%10000)
	}
	return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
}

// MajorVersion returns the major version of a server_version_num, in the
// same form: 150004 gives 150000, 90624 gives 90600. Tools such as pg_dump
// work with servers of their own major version or older.
func MajorVersion(v int) int {
	if v >= 100000 {
		return v / 10000 * 10000
	}
	return v / 100 * 100
}

// BinDirs returns the folders root/VERSION/bin that exist (Debian's and
// Ubuntu's layout under /usr/lib/postgresql), newest version first by
// number: 17 before 9.6 before 9.5. Folders whose name is not a version
// come last.
func BinDirs(root string) []string {
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "bin"))
	sort.SliceStable(dirs, func(i, j int) bool { return BinDirVersion(dirs[i]) > BinDirVersion(dirs[j]) })
	return dirs
}

// Programs returns where PostgreSQL's program name is: on PATH first,
// then in the folders root/VERSION/bin, newest version first.
func Programs(name, root string) []string {
	var out []string
	if p, err := exec.LookPath(name); err == nil {
		out = append(out, p)
	}
	for _, d := range BinDirs(root) {
		if p := filepath.Join(d, name); isExecutable(p) {
			out = append(out, p)
		}
	}
	return out
}

// BinDirVersion returns the version a folder root/VERSION/bin is named for,
// as [ParseVersion] reads it, or 0.
func BinDirVersion(binDir string) int {
	return ParseVersion(filepath.Base(filepath.Dir(binDir)))
}
