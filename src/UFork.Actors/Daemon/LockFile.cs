using Mono.Unix.Native;
using UFork.Hosting;

namespace UFork.Daemon;

/// <summary>
/// A file an arbiter holds an exclusive lock on (<see cref="LockedFiles.TryLock"/>) for its whole life: of any number of processes trying
/// at once exactly one gets it, and a holder that dies lets go with its last fd, so nothing it left
/// behind needs judging. The holder removes the file as it lets go.
/// </summary>
internal sealed class LockFile : IDisposable
{
    // A claimer retries only when the file it locked was removed by a holder letting go: a handful suffices.
    private const int MaxAttempts = 10;
    private const FilePermissions OwnerOnly = FilePermissions.S_IRUSR | FilePermissions.S_IWUSR;

    private readonly int _fd;
    private bool _released;

    private LockFile(string path, int fd)
    {
        Path = path;
        _fd = fd;
    }

    public string Path { get; }

    /// <summary>The lock, or null while another process holds it.</summary>
    /// <param name="what">What the file is for, to name it in errors.</param>
    /// <exception cref="ArbiterStartException">Something other than a regular file is there, or it cannot be opened or locked.</exception>
    public static LockFile? TryAcquire(string path, string what)
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var fd = LockedFiles.OpenRegular(path, OpenFlags.O_RDWR | OpenFlags.O_CREAT, OwnerOnly, what);
            if (!LockedFiles.TryLock(fd, path, what))
            {
                Syscall.close(fd);
                return null;
            }
            if (LockedFiles.IsStillAt(fd, path))
                return new LockFile(path, fd);
            Syscall.close(fd); // its holder removed it as it let go: the one at the path now is the one to lock
        }
        throw new ArbiterStartException($"cannot lock {what} {path}: it keeps being removed");
    }

    /// <summary>Removes the file (unless it is no longer this one) and lets go of the lock.</summary>
    public void Dispose()
    {
        if (_released)
            return;
        _released = true;
        // Removed before it is unlocked, so that whoever gets the lock next sees it is gone and starts afresh.
        if (LockedFiles.IsStillAt(_fd, Path))
            Syscall.unlink(Path);
        Syscall.close(_fd);
    }
}
