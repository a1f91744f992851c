package authz

import (
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
)

// LoadJWKS reads a JSON Web Key Set file (RFC 7517) of public keys: RSA
// ("kty": "RSA", at least 2048 bits) verifying RS256 and Ed25519 ("kty":
// "OKP", "crv": "Ed25519") verifying EdDSA, each under its "kid". A key
// whose "alg" names another algorithm, or with private parts, is refused.
func LoadJWKS(path string) ([]PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseJWKS(b)
}

// ParseJWKS parses the contents of a JWKS file (see LoadJWKS).
func ParseJWKS(b []byte) ([]PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Alg string `json:"alg"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("JWKS: no keys")
	}
	dec := base64.RawURLEncoding
	var out []PublicKey
	for i, k := range set.Keys {
		what := fmt.Sprintf("JWKS key %d (kid %q)", i+1, k.Kid)
		if k.Kid == "" {
			return nil, fmt.Errorf("%s: a kid is required", what)
		}
		if k.D != "" {
			return nil, fmt.Errorf("%s: holds a private key; publish only the public part", what)
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, fmt.Errorf("%s: use %q is not for signatures", what, k.Use)
		}
		switch k.Kty {
		case "RSA":
			if k.Alg != "" && k.Alg != "RS256" {
				return nil, fmt.Errorf("%s: alg %q (RSA keys verify RS256)", what, k.Alg)
			}
			nb, err1 := dec.DecodeString(k.N)
			eb, err2 := dec.DecodeString(k.E)
			if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
				return nil, fmt.Errorf("%s: n and e must be base64url integers", what)
			}
			n := new(big.Int).SetBytes(nb)
			e := int(new(big.Int).SetBytes(eb).Int64())
			if n.BitLen() < 2048 || e < 3 || e%2 == 0 {
				return nil, fmt.Errorf("%s: an RSA key of %d bits (exponent %d) is too weak", what, n.BitLen(), e)
			}
			out = append(out, PublicKey{ID: k.Kid, Key: &rsa.PublicKey{N: n, E: e}})
		case "OKP":
			if k.Crv != "Ed25519" || (k.Alg != "" && k.Alg != "EdDSA") {
				return nil, fmt.Errorf("%s: only Ed25519 (EdDSA) OKP keys are supported", what)
			}
			x, err := dec.DecodeString(k.X)
			if err != nil || len(x) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("%s: x must be a base64url Ed25519 public key", what)
			}
			out = append(out, PublicKey{ID: k.Kid, Key: ed25519.PublicKey(x)})
		default:
			return nil, fmt.Errorf("%s: key type %q is not supported (RSA or OKP/Ed25519)", what, k.Kty)
		}
	}
	return out, nil
}
