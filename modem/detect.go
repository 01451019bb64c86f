package modem

import (
	"context"
	"errors"
)

func detect(ctx context.Context, opts DetectOptions) ([]Device, error) {
	return nil, errors.New("detect: not implemented yet")
}
