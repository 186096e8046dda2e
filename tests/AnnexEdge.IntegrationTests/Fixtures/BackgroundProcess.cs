using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>A long-running child process (a p2phttp node, the edge) whose output is kept for failure messages.</summary>
public sealed class BackgroundProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public BackgroundProcess(string file, IEnumerable<string> args, string workingDirectory, IDictionary<string, string>? environment = null)
    {
        var info = ProcessRunner.StartInfo(file, args, workingDirectory, environment);
        _process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Waits up to 30 s for an output line matching the pattern and returns it; fails the test otherwise, at once
    /// when the process has exited. Output arrives asynchronously, so a line the process wrote just before answering
    /// may not be here yet when the answer is. The deadline is long because a cold code path (a first reload, JIT) on
    /// a loaded 2-core machine took over 5 s to log; it costs nothing when the line comes.
    /// </summary>
    public async Task<string> LineAsync(Regex pattern)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var output = Output;
            if (output.Split('\n').FirstOrDefault(pattern.IsMatch) is { } line)
            {
                return line;
            }

            if (_process.HasExited)
            {
                // Waiting without a timeout also waits for the redirected output to end.
                await _process.WaitForExitAsync(TestContext.Current.CancellationToken);
                if (Output.Split('\n').FirstOrDefault(pattern.IsMatch) is { } last)
                {
                    return last;
                }

                Assert.Fail($"the process exited (code {_process.ExitCode}) without a line matching \"{pattern}\":\n{output}");
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"the process did not write a line matching \"{pattern}\" in 30 s:\n{output}");
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Resident memory of the process now, from /proc (bytes).</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS");
    }

    /// <summary>Sends a signal (TERM, INT, ...) to the process alone, as a supervisor's stop does.</summary>
    public void Signal(string signal) => Kill(signal, _process.Id.ToString());

    /// <summary>Sends a signal to the process group the process leads (started under <c>setsid</c>), as a shell's <c>kill %1</c> does.</summary>
    public void SignalGroup(string signal) => Kill(signal, "--", "-" + _process.Id.ToString());

    private static void Kill(string signal, params string[] target)
    {
        using var kill = Process.Start("kill", ["-s", signal, .. target]) ?? throw new InvalidOperationException("cannot run kill");
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -s {signal} {string.Join(' ', target)} failed with exit code {kill.ExitCode}");
        }
    }

    /// <summary>Waits for the process to exit and returns its exit code; fails the test when it has not within the deadline.</summary>
    public async Task<int> ExitCodeAsync(TimeSpan deadline)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(deadline);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"the process did not exit within {deadline.TotalSeconds:0.#} s:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Kills the process (and its children) at once, as a crash or a power cut would.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            // Keep the tail only: a node can log a lot over a long test.
            if (_output.Length > 256 * 1024)
            {
                _output.Remove(0, 128 * 1024);
            }

            _output.AppendLine(line);
        }
    }
}
