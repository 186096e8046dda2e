using System.Diagnostics;
using System.Text;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>Runs a command to completion, with a timeout, and keeps its output for assertions and failure messages.</summary>
public static class ProcessRunner
{
    public sealed record Result(int ExitCode, string Output)
    {
        public Result EnsureSuccess(string what)
        {
            if (ExitCode != 0)
            {
                throw new InvalidOperationException($"{what} failed with exit code {ExitCode}:\n{Output}");
            }

            return this;
        }
    }

    public static async Task<Result> RunAsync(
        string file, IEnumerable<string> args, string? workingDirectory = null,
        IDictionary<string, string>? environment = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var info = StartInfo(file, args, workingDirectory ?? Environment.CurrentDirectory, environment);
        info.RedirectStandardInput = true;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        process.StandardInput.Close();
        var output = new StringBuilder();
        var lockObj = new object();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (lockObj) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (lockObj) { output.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time:\n{output}");
        }

        process.WaitForExit();
        lock (lockObj)
        {
            return new Result(process.ExitCode, output.ToString());
        }
    }

    /// <summary>How tests start processes: output captured, git's test identity, extra environment on top.</summary>
    internal static ProcessStartInfo StartInfo(string file, IEnumerable<string> args, string workingDirectory, IDictionary<string, string>? environment)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (k, v) in GitEnvironment.Variables.Concat(environment ?? new Dictionary<string, string>()))
        {
            info.Environment[k] = v;
        }

        return info;
    }
}

/// <summary>Identity for git in test repositories, so tests never depend on the machine's git config.</summary>
public static class GitEnvironment
{
    public static readonly IReadOnlyDictionary<string, string> Variables = new Dictionary<string, string>
    {
        ["GIT_AUTHOR_NAME"] = "annexedge-test",
        ["GIT_AUTHOR_EMAIL"] = "test@annexedge.invalid",
        ["GIT_COMMITTER_NAME"] = "annexedge-test",
        ["GIT_COMMITTER_EMAIL"] = "test@annexedge.invalid",
        ["GIT_CONFIG_NOSYSTEM"] = "1",
        ["GIT_TERMINAL_PROMPT"] = "0",
    };
}
