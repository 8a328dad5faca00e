using System.Runtime.InteropServices;
using Akka.Actor;
using UFork.Supervision;

namespace UFork.Hosting;

/// <summary>
/// The signals gunicorn users expect, for any arbiter that runs until signalled: each becomes a message
/// of the command set to the ArbiterActor, so a signal does exactly what the same command does at the
/// prompt or through the control socket. Every default action is cancelled (TTIN and TTOU would
/// otherwise stop the process, HUP and QUIT end it).
/// <para>
/// The door opens before the arbiter exists (before the pidfile and control socket announce it, so that
/// no early signal can take the default action): what arrives meanwhile is kept and delivered by
/// <see cref="Attach"/>, so that TERM or INT then mean "stop as soon as started".
/// </para>
/// <para>
/// Job control stays the terminal's. TSTP (Ctrl-Z) is left at its default, so the arbiter stops as any
/// job does (its workers lead process groups of their own and serve on). The kernel also sends TTIN and
/// TTOU, to a background job that touches its terminal, and .NET does not tell those from a
/// <c>kill</c>'s (PosixSignalRegistration has no si_code). The rule: a TTIN or TTOU that arrives while
/// this process is in the background of its controlling terminal (the terminal's foreground process
/// group, tcgetpgrp, is not ours) is the terminal's and scales nothing; any other is a command. So
/// <c>kill -TTIN</c> scales a daemon, or an arbiter in the foreground of its terminal; an arbiter put in
/// the background of an interactive shell is scaled through the prompt after <c>fg</c>, or
/// <c>ufork ctl</c>. Nothing of the arbiter reads the terminal or changes its settings while in the
/// background (the prompt waits for <c>fg</c>, and CONT in the background skips .NET's terminal
/// reinitialisation), so the kernel has no reason to send them.
/// </para>
/// </summary>
internal sealed class SignalDoor : IJobControl, IDisposable
{
    // Not named by PosixSignal; on Linux PosixSignalRegistration takes the raw number.
    private const PosixSignal SIGUSR1 = (PosixSignal)10;

    private readonly List<PosixSignalRegistration> _registrations;
    private readonly Lock _lock = new();
    private readonly List<object> _beforeAttach = [];
    private IActorRef? _arbiter;
    private Action? _onStop;
    private int _interrupts;

    public SignalDoor()
    {
        _registrations =
        [
            On(PosixSignal.SIGTERM, _ => Stopping(Shutdown.Instance)),
            // A second Ctrl-C stops waiting for the grace period.
            On(PosixSignal.SIGINT, _ => Stopping(Interlocked.Increment(ref _interrupts) == 1 ? Shutdown.Instance : new Shutdown(Fast: true))),
            On(PosixSignal.SIGQUIT, _ => Stopping(new Shutdown(Fast: true))),
            On(PosixSignal.SIGHUP, _ => new RestartWorkers(null)),
            On(PosixSignal.SIGTTIN, _ => Terminal.InBackground ? null : new ScaleBy(+1)),
            On(PosixSignal.SIGTTOU, _ => Terminal.InBackground ? null : new ScaleBy(-1)),
            On(SIGUSR1, _ => ReopenLog.Instance),
            PosixSignalRegistration.Create(PosixSignal.SIGCONT, OnContinued),
        ];
    }

    /// <summary>On CONT in the foreground of the terminal (<c>fg</c>, or <c>kill -CONT</c> there): the prompt is drawn again.</summary>
    public event Action? ContinuedInForeground;

    /// <summary>
    /// From now on signals go to <paramref name="arbiter"/>; those that came before are delivered now, in order.
    /// <paramref name="onStop"/> runs on TERM, INT and QUIT, before the arbiter hears of it (the prompt closes).
    /// </summary>
    public void Attach(IActorRef arbiter, Action? onStop = null)
    {
        List<object> early;
        lock (_lock)
        {
            _arbiter = arbiter;
            _onStop = onStop;
            early = [.. _beforeAttach];
            _beforeAttach.Clear();
        }
        if (early.OfType<Shutdown>().Any())
            onStop?.Invoke();
        foreach (var message in early)
            Send(arbiter, message);
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
    }

    private Shutdown Stopping(Shutdown shutdown)
    {
        Action? onStop;
        lock (_lock)
            onStop = _onStop;
        onStop?.Invoke();
        return shutdown;
    }

    private PosixSignalRegistration On(PosixSignal signal, Func<PosixSignalContext, object?> message) =>
        PosixSignalRegistration.Create(signal, context =>
        {
            context.Cancel = true;
            if (message(context) is not { } command)
                return;
            IActorRef? arbiter;
            lock (_lock)
            {
                arbiter = _arbiter;
                if (arbiter is null)
                    _beforeAttach.Add(command);
            }
            if (arbiter is not null)
                Send(arbiter, command);
        });

    // No one waits for the reply: Nobody drops it, where no sender would make it a dead letter.
    private static void Send(IActorRef arbiter, object command) => arbiter.Tell(command, ActorRefs.Nobody);

    private void OnContinued(PosixSignalContext context)
    {
        // .NET sets the terminal up again on CONT; from the background that would draw a TTOU from the
        // kernel (and change settings that are the shell's now). In the foreground it must, after a stop.
        if (Terminal.InBackground)
        {
            context.Cancel = true;
            return;
        }
        ContinuedInForeground?.Invoke();
    }
}
