using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AnnexEdge.Logging;

namespace AnnexEdge.Directories;

/// <summary>What a managed p2phttp is doing, as the status page shows it.</summary>
internal enum ManagedState
{
    Starting,
    Running,
    Restarting,
    Draining,
    Stopped,
}

/// <summary>
/// One <c>git-annex p2phttp --directory</c> the edge runs on a loopback port, supervised: its output goes to the
/// edge's log, and when it exits unless stopped it is started again on the same port after a
/// <see cref="RestartBackoff"/> delay, so the repositories' backends stay valid. It never outlives the edge
/// (<see cref="ProcessGroupGuard"/>).
/// </summary>
internal sealed partial class ManagedProcess : IDisposable
{
    private readonly string _directory;
    private readonly int _jobs;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RestartBackoff _backoff;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Process? _process;
    private Task _supervised = Task.CompletedTask;
    private volatile ManagedState _state = ManagedState.Starting;
    private int _restarts;

    public ManagedProcess(string directory, int jobs, TimeProvider time, ILogger logger, RestartBackoff backoff)
    {
        _directory = directory;
        _jobs = jobs;
        _time = time;
        _logger = logger;
        _backoff = backoff;
        Port = LoopbackPort();
    }

    public string Directory => _directory;

    public int Port { get; }

    /// <summary>The backend URL the directory's repositories are given.</summary>
    public string Url => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public int? Pid
    {
        get
        {
            lock (_gate)
            {
                return _process is { HasExited: false } p ? p.Id : null;
            }
        }
    }

    public ManagedState State
    {
        get => _state;
        set => _state = value;
    }

    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>The command line, for the log and the docs: full access, since the edge does access control, on loopback only.</summary>
    public IReadOnlyList<string> Arguments =>
    [
        "p2phttp", "--directory", _directory, "--jobs", _jobs.ToString(CultureInfo.InvariantCulture),
        "--bind", "127.0.0.1", "--port", Port.ToString(CultureInfo.InvariantCulture), "--wideopen",
    ];

    /// <summary>Starts the process and its supervision.</summary>
    public void Start() => _supervised = Task.Run(SuperviseAsync);

    /// <summary>
    /// Whether it accepts connections within <paramref name="deadline"/> (polled: it binds once it has found its
    /// repositories); false when cancelled.
    /// </summary>
    public async Task<bool> AnswersAsync(TimeSpan deadline, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            while (_time.GetElapsedTime(started) < deadline)
            {
                using var client = new TcpClient();
                try
                {
                    await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
                    return true;
                }
                catch (SocketException)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The edge is stopping: it will not be used.
        }

        return false;
    }

    /// <summary>
    /// Stops it for good: SIGTERM, and after <paramref name="grace"/> a kill of it and anything it started.
    /// Returns once the process is gone.
    /// </summary>
    public async Task StopAsync(TimeSpan grace, string reason)
    {
        Process? process;
        lock (_gate)
        {
            _stop.Cancel();
            process = _process;
        }

        if (process is not null && !process.HasExited)
        {
            Log.Stopping(_logger, _directory, process.Id, Port, reason);
            _ = NativeMethods.Kill(process.Id, NativeMethods.SigTerm);
            using var timeout = new CancellationTokenSource(grace, _time);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Log.Killed(_logger, _directory, process.Id, grace);
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
        }

        await _supervised;
        lock (_gate)
        {
            _process?.Dispose();
            _process = null;
        }

        _state = ManagedState.Stopped;
    }

    /// <summary>After <see cref="StopAsync"/>.</summary>
    public void Dispose() => _stop.Dispose();

    private async Task SuperviseAsync()
    {
        while (true)
        {
            Process? process;
            ProcessGroupGuard? guard = null;
            var started = _time.GetTimestamp();
            lock (_gate)
            {
                if (_stop.IsCancellationRequested)
                {
                    break;
                }

                // The one before exited: a crash restart.
                _process?.Dispose();
                process = Launch(out guard);
                _process = process;
            }

            if (process is not null)
            {
                await process.WaitForExitAsync(CancellationToken.None);
                if (guard is not null)
                {
                    await guard.DisposeAsync();
                }

                if (_stop.IsCancellationRequested)
                {
                    break;
                }
            }

            var ranFor = _time.GetElapsedTime(started);
            var delay = _backoff.Next(ranFor);
            if (process is not null)
            {
                Log.Exited(_logger, _directory, process.Id, process.ExitCode, ranFor, delay);
            }

            _state = ManagedState.Restarting;
            try
            {
                await Task.Delay(delay, _time, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            Interlocked.Increment(ref _restarts);
        }
    }

    /// <summary>
    /// Starts git-annex in a session of its own, so its process group (it and the git processes it runs) can be
    /// ended as one, and under a <see cref="ProcessGroupGuard"/> that ends that group if the edge is killed. setsid
    /// and the shell exec in place, so the pid is the server's. The shell waits for a line from the edge before it
    /// runs git-annex: an edge killed before the guard watches ends it there, with nothing left behind.
    /// Null when it cannot be run.
    /// </summary>
    private Process? Launch(out ProcessGroupGuard? guard)
    {
        guard = null;
        var info = new ProcessStartInfo("setsid")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        foreach (var argument in (string[])["/bin/sh", "-c", "read -r _ && exec \"$@\"", "annexedge-p2phttp", "git-annex", .. Arguments])
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Output(process, e.Data);
        process.ErrorDataReceived += (_, e) => Output(process, e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            Log.CannotStart(_logger, _directory, e.Message);
            process.Dispose();
            return null;
        }

        guard = ProcessGroupGuard.Start(process.Id, ManagedDirectories.StopGrace, _directory, _logger);
        try
        {
            // The go line; then end of file, as git-annex reads nothing from the edge.
            process.StandardInput.WriteLine();
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It is gone already: supervision sees it exit.
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _state = ManagedState.Running;
        Log.Started(_logger, _directory, process.Id, Port, string.Join(' ', Arguments));
        return process;
    }

    private void Output(Process process, string? line)
    {
        if (!string.IsNullOrWhiteSpace(line))
        {
            Log.Said(_logger, _directory, process.Id, line);
        }
    }

    /// <summary>A port of loopback that nothing listens on now (the kernel's pick for a bind to port 0).</summary>
    private static int LoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static class NativeMethods
    {
        public const int SigTerm = 15;

        [DllImport("libc", EntryPoint = "kill")]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int signal);
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ManagedStarted, LogLevel.Information, "Started git-annex {Arguments} for {Directory} (pid {Pid}, port {Port})")]
        public static partial void Started(ILogger logger, string directory, int pid, int port, string arguments);

        [LoggerMessage(EdgeEventIds.ManagedSaid, LogLevel.Information, "p2phttp of {Directory} (pid {Pid}): {Line}")]
        public static partial void Said(ILogger logger, string directory, int pid, string line);

        [LoggerMessage(EdgeEventIds.ManagedExited, LogLevel.Warning, "p2phttp of {Directory} (pid {Pid}) exited with code {ExitCode} after {RanFor}; starting it again in {Delay}")]
        public static partial void Exited(ILogger logger, string directory, int pid, int exitCode, TimeSpan ranFor, TimeSpan delay);

        [LoggerMessage(EdgeEventIds.ManagedCannotStart, LogLevel.Error, "Cannot run git-annex p2phttp for {Directory}: {Reason}")]
        public static partial void CannotStart(ILogger logger, string directory, string reason);

        [LoggerMessage(EdgeEventIds.ManagedStopping, LogLevel.Information, "Stopping p2phttp of {Directory} (pid {Pid}, port {Port}): {Reason}")]
        public static partial void Stopping(ILogger logger, string directory, int pid, int port, string reason);

        [LoggerMessage(EdgeEventIds.ManagedKilled, LogLevel.Warning, "p2phttp of {Directory} (pid {Pid}) did not stop within {Grace} of SIGTERM: killed it")]
        public static partial void Killed(ILogger logger, string directory, int pid, TimeSpan grace);
    }
}
