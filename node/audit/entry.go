package audit

import (
	"time"

	"github.com/custos-network/custos/api"
)

// AppendEntry stamps e with the time now, encodes it in the api entry format
// and appends it within tx, as Append does.
func (l *Log) AppendEntry(tx Tx, e *api.Entry, now time.Time) (int64, error) {
	e.TimeUnixMs = uint64(now.UnixMilli())
	b, err := api.MarshalEntry(e)
	if err != nil {
		return 0, err
	}
	return l.Append(tx, b)
}
