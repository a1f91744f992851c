//go:build !unix

package warehouse

import "os"

// mapFile reads a file into memory where mappings are not used.
func mapFile(path string) (data []byte, unmap func() error, err error) {
	data, err = os.ReadFile(path)
	return data, func() error { return nil }, err
}
