package web

import (
	"edgebox/api/webapi"
	"edgebox/internal/backup"
)

// The backup's format and its crypto live in api/webapi and
// internal/backup, so that edgectl opens a backup without linking web.

// BackupFormat is the backup format this firmware writes.
const BackupFormat = webapi.BackupFormat

// MinPassphraseLen is the shortest backup passphrase accepted.
const MinPassphraseLen = webapi.MinPassphraseLen

type (
	Backup        = webapi.Backup
	SealedConfig  = webapi.SealedConfig
	BackupRequest = webapi.BackupRequest
)

var (
	sealBackup = backup.Seal
	// OpenBackup checks a format-2 backup with its passphrase and returns
	// the whole config it holds.
	OpenBackup = backup.Open
)
