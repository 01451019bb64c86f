package netapi

import "time"

// LANMoveGrace is how long a LAN port keeps answering on its old address
// after the admin moved it: devices that still hold a lease in the old
// network (12 h) reach the box there until they ask DHCP again, and the
// page that saved the move can say where the box went.
const LANMoveGrace = 10 * time.Minute
