using System.Runtime.InteropServices;
using Akka.Actor;
using UFork.Supervision;

namespace UFork.Hosting;

/// <summary>
/// The signals gunicorn users expect, for any arbiter that runs until signalled: each becomes a message
/// of the command set to the ArbiterActor, so a signal does exactly what the same command does at the
/// prompt or through the control socket. Every default action is cancelled (TTIN and TTOU would
/// otherwise stop the process, HUP and QUIT end it).
/// </summary>
internal sealed class SignalDoor : IDisposable
{
    // Not named by PosixSignal; on Linux PosixSignalRegistration takes the raw number.
    private const PosixSignal SIGUSR1 = (PosixSignal)10;

    private readonly List<PosixSignalRegistration> _registrations;
    private int _interrupts;

    /// <param name="onStop">Runs on TERM, INT and QUIT, before the arbiter hears of it (the prompt closes).</param>
    public SignalDoor(IActorRef arbiter, Action? onStop = null)
    {
        _registrations =
        [
            On(PosixSignal.SIGTERM, () => Stopping(Shutdown.Instance)),
            // A second Ctrl-C stops waiting for the grace period.
            On(PosixSignal.SIGINT, () => Stopping(Interlocked.Increment(ref _interrupts) == 1 ? Shutdown.Instance : new Shutdown(Fast: true))),
            On(PosixSignal.SIGQUIT, () => Stopping(new Shutdown(Fast: true))),
            On(PosixSignal.SIGHUP, () => new RestartWorkers(null)),
            On(PosixSignal.SIGTTIN, () => new ScaleBy(+1)),
            On(PosixSignal.SIGTTOU, () => new ScaleBy(-1)),
            On(SIGUSR1, () => ReopenLog.Instance),
        ];

        Shutdown Stopping(Shutdown shutdown)
        {
            onStop?.Invoke();
            return shutdown;
        }

        PosixSignalRegistration On(PosixSignal signal, Func<object> message) =>
            PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                arbiter.Tell(message());
            });
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
    }
}
