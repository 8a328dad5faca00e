using Mono.Unix.Native;
using UFork.Hosting;
using UFork.Spawning;

namespace UFork.Prompt;

/// <summary>
/// The keys typed at the terminal, one at a time through Console.ReadKey, until <see cref="Close"/>.
/// A reader waits in poll(2) on stdin and a wake-up pipe rather than inside ReadKey, so that closing
/// leaves nothing reading stdin: in a REPL the next key belongs to the REPL. While the process is in the
/// background of the terminal (a shell's <c>bg</c>) it reads nothing, which would only draw a TTIN from the
/// kernel, and waits to have the terminal back.
/// </summary>
internal sealed unsafe class TerminalKeys : IDisposable
{
    private const int StdinFd = 0;
    private const int BackgroundLookMilliseconds = 200;
    private readonly (int Read, int Write) _wakeup = Libc.Pipe();
    private volatile bool _closed;

    public bool IsClosed => _closed;

    /// <summary>The next key, or null once closed or once the terminal has hung up.</summary>
    public ConsoleKeyInfo? Next()
    {
        while (!_closed)
        {
            if (Terminal.InBackground)
            {
                WaitUntilForeground();
                continue;
            }
            try
            {
                // KeyAvailable also sees keys .NET has already read and buffered (an escape sequence, a
                // paste), which poll(2) on the descriptor cannot.
                if (Console.KeyAvailable)
                    return Console.ReadKey(intercept: true);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                return null;
            }
            var fds = new[]
            {
                new Pollfd { fd = StdinFd, events = PollEvents.POLLIN },
                new Pollfd { fd = _wakeup.Read, events = PollEvents.POLLIN },
            };
            if (Syscall.poll(fds, -1) < 0)
                continue; // EINTR
            if ((fds[1].revents & PollEvents.POLLIN) != 0)
                DrainWakeup();
            var hungUp = (fds[0].revents & (PollEvents.POLLHUP | PollEvents.POLLERR | PollEvents.POLLNVAL)) != 0;
            if (hungUp && (fds[0].revents & PollEvents.POLLIN) == 0)
                return null;
        }
        return null;
    }

    /// <summary>Wakes a waiting <see cref="Next"/>, which returns null from now on.</summary>
    public void Close()
    {
        _closed = true;
        Wake();
    }

    /// <summary>Makes a waiting <see cref="Next"/> look again whether the terminal is ours (the process was continued).</summary>
    public void Wake()
    {
        byte wake = 1;
        // The reader drains each wake-up, so the pipe never fills; nothing else can fail on a pipe we own.
        Libc.write(_wakeup.Write, &wake, 1);
    }

    /// <summary>
    /// Until the terminal is ours again or the keys are closed. A shell's <c>fg</c> of a stopped job sends
    /// CONT, whose handler wakes us; of a job running in the background it sends nothing, so the terminal
    /// is also looked at a few times a second. Then a CONT of our own makes .NET set the terminal up for
    /// reading keys again (the shell has had it, cooked) and the prompt draw its line again.
    /// </summary>
    private void WaitUntilForeground()
    {
        var fds = new[] { new Pollfd { fd = _wakeup.Read, events = PollEvents.POLLIN } };
        while (!_closed && Terminal.InBackground)
        {
            if (Syscall.poll(fds, BackgroundLookMilliseconds) > 0)
                DrainWakeup();
        }
        if (!_closed && Syscall.kill(Environment.ProcessId, Signum.SIGCONT) != 0)
            throw new IOException($"kill(SIGCONT) of this process failed: {Stdlib.GetLastError()}");
    }

    private void DrainWakeup()
    {
        if (_closed)
            return; // the wake-up stays, so that every later call returns at once
        byte wake;
        Libc.read(_wakeup.Read, &wake, 1);
    }

    /// <summary>Only once no thread is in <see cref="Next"/>: the descriptors are closed.</summary>
    public void Dispose()
    {
        Libc.close(_wakeup.Read);
        Libc.close(_wakeup.Write);
    }
}
