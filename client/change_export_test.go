package client

// ErrChangeFault is what a change's fault hook returns to stop it as a
// kill would.
var ErrChangeFault = errChangeFault

// SetChangeFault sets a hook that each step of a change calls with the
// step's name ("resume", "staged", "put NODE", "placed", "committed",
// "deleted"); an error from it stops the change there, as a kill would.
func (c *Client) SetChangeFault(f func(step string) error) { c.changeFault = f }
