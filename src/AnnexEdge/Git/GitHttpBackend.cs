using System.Diagnostics;
using System.Globalization;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Git;

/// <summary>
/// Serves a git repository on this machine with git's own <c>git http-backend</c>, run as a CGI program per request
/// with a clean environment. The request body is piped into it and its answer out to the client as they come, so a
/// pack of any size passes through a small buffer; a client that goes away takes the program with it. At most
/// <c>Git:MaxBackendProcesses</c> run at once; a request that finds none free within <c>Git:BackendQueueTimeout</c> is
/// answered 503 with <c>Retry-After</c>, which git clients show as an error to try again.
/// </summary>
internal sealed partial class GitHttpBackend(IOptions<AnnexEdgeOptions> options, ILogger<GitHttpBackend> logger) : IDisposable
{
    /// <summary>The program that runs <c>http-backend</c>: git from PATH.</summary>
    public const string Git = "git";

    private readonly GitOptions _options = options.Value.Git;
    private readonly SemaphoreSlim _processes = new(options.Value.Git.MaxBackendProcesses);

    public async Task ServeAsync(HttpContext context, GitRepository repository, GitPath path)
    {
        bool free;
        try
        {
            free = await _processes.WaitAsync(_options.BackendQueueTimeout, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            // The client gave up waiting: nothing to answer.
            return;
        }

        if (!free)
        {
            Log.BackendsBusy(logger, repository.Name, path.ServiceName, _options.MaxBackendProcesses, _options.BackendQueueTimeout);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "10";
            return;
        }

        try
        {
            await RunAsync(context, repository, path);
        }
        finally
        {
            _processes.Release();
        }
    }

    public void Dispose() => _processes.Dispose();

    private async Task RunAsync(HttpContext context, GitRepository repository, GitPath path)
    {
        var info = StartInfo(context, repository.Directory!, path);
        using var process = new Process { StartInfo = info };
        process.Start();
        var ct = context.RequestAborted;
        // Killed on the client's abort, and on any way out of here before it exited on its own.
        await using var kill = ct.Register(() => Kill(process));
        string? broken = null;
        try
        {
            var stderr = LogStderrAsync(process, repository.Name);
            var input = CopyRequestAsync(context, process, ct);
            var served = await AnswerAsync(context, process, repository.Name, ct);
            await input;
            await process.WaitForExitAsync(ct);
            await stderr;
            if (served && process.ExitCode != 0 && !ct.IsCancellationRequested)
            {
                Log.BackendExited(logger, repository.Name, path.ServiceName, process.ExitCode);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The client went away or its body broke off (an IOException from Kestrel): nothing more can be answered.
            broken = e.Message;
            context.Abort();
        }
        finally
        {
            Kill(process);
        }

        if (broken is not null || ct.IsCancellationRequested)
        {
            Log.ClientGone(logger, repository.Name, path.ServiceName, broken ?? "request aborted");
        }
    }

    /// <summary>RFC 3875's variables and git's own, and nothing of the edge's environment but PATH.</summary>
    private static ProcessStartInfo StartInfo(HttpContext context, string directory, GitPath path)
    {
        var info = new ProcessStartInfo(Git)
        {
            ArgumentList = { "http-backend" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        var request = context.Request;
        var env = info.Environment;
        env.Clear();
        env["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        env["GATEWAY_INTERFACE"] = "CGI/1.1";
        env["SERVER_PROTOCOL"] = request.Protocol;
        env["REQUEST_METHOD"] = request.Method;
        // The repository is the project root itself; PATH_INFO names the service within it.
        env["GIT_PROJECT_ROOT"] = directory;
        env["PATH_INFO"] = path.Rest;
        env["QUERY_STRING"] = request.QueryString.HasValue ? request.QueryString.Value![1..] : "";
        env["GIT_HTTP_EXPORT_ALL"] = "1";
        env["REMOTE_ADDR"] = context.Connection.RemoteIpAddress?.ToString() ?? "";
        if (context.User.Identity?.Name is { } user)
        {
            env["REMOTE_USER"] = user;
        }

        if (request.ContentType is { } contentType)
        {
            env["CONTENT_TYPE"] = contentType;
        }

        // Without a length (a chunked push) http-backend reads the body to its end, which the edge closes.
        if (request.ContentLength is { } length)
        {
            env["CONTENT_LENGTH"] = length.ToString(CultureInfo.InvariantCulture);
        }

        if (request.Headers.ContentEncoding.ToString() is { Length: > 0 } encoding)
        {
            env["HTTP_CONTENT_ENCODING"] = encoding;
        }

        if (request.Headers["Git-Protocol"].ToString() is { Length: > 0 } protocol)
        {
            env["GIT_PROTOCOL"] = protocol;
        }

        if (path.IsPush)
        {
            // The edge has authorized this push; http-backend would otherwise refuse it without REMOTE_USER, and this
            // leaves the repository's own config alone.
            env["GIT_CONFIG_COUNT"] = "1";
            env["GIT_CONFIG_KEY_0"] = "http.receivepack";
            env["GIT_CONFIG_VALUE_0"] = "true";
        }

        return info;
    }

    private static async Task CopyRequestAsync(HttpContext context, Process process, CancellationToken ct)
    {
        var stdin = process.StandardInput.BaseStream;
        try
        {
            await context.Request.Body.CopyToAsync(stdin, ct);
        }
        catch (IOException) when (!ct.IsCancellationRequested && process.HasExited)
        {
            // http-backend answered (an error, say) without reading all of the body: its answer tells the client.
        }
        catch
        {
            // The body broke off: git must not take what came as the whole push.
            Kill(process);
            throw;
        }
        finally
        {
            try
            {
                await stdin.DisposeAsync();
            }
            catch (IOException)
            {
                // Closed already by the program's exit.
            }
        }
    }

    /// <summary>Reads the CGI header, answers with it and streams the body; false when the program gave no valid header.</summary>
    private async Task<bool> AnswerAsync(HttpContext context, Process process, string repository, CancellationToken ct)
    {
        var stdout = process.StandardOutput.BaseStream;
        var buffer = new byte[16 * 1024];
        var filled = 0;
        (int HeadLength, int BodyStart)? end = null;
        while (end is null && filled < CgiResponseHead.MaxLength)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, CgiResponseHead.MaxLength));
            }

            var read = await stdout.ReadAsync(buffer.AsMemory(filled), ct);
            if (read == 0)
            {
                break;
            }

            filled += read;
            end = CgiResponseHead.FindEnd(buffer.AsSpan(0, filled));
        }

        var head = end is { } e ? CgiResponseHead.Parse(buffer.AsSpan(0, e.HeadLength)) : null;
        if (head is null)
        {
            Log.BadCgiAnswer(logger, repository);
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            return false;
        }

        var response = context.Response;
        response.StatusCode = head.StatusCode;
        foreach (var (name, value) in head.Headers)
        {
            response.Headers.Append(name, value);
        }

        await response.Body.WriteAsync(buffer.AsMemory(end!.Value.BodyStart, filled - end.Value.BodyStart), ct);
        // git's progress and the pack come in pieces as git makes them: pass each on at once.
        int n;
        while ((n = await stdout.ReadAsync(buffer, ct)) > 0)
        {
            await response.Body.WriteAsync(buffer.AsMemory(0, n), ct);
            await response.Body.FlushAsync(ct);
        }

        return true;
    }

    private async Task LogStderrAsync(Process process, string repository)
    {
        while (await process.StandardError.ReadLineAsync() is { } line)
        {
            Log.BackendSaid(logger, repository, line);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.GitBackendExited, LogLevel.Warning, "git http-backend for {Repository} ({Service}) exited with {ExitCode}")]
        public static partial void BackendExited(ILogger logger, string repository, string service, int exitCode);

        [LoggerMessage(EdgeEventIds.GitBadCgiAnswer, LogLevel.Error, "git http-backend for {Repository} gave no valid CGI header; answered 502")]
        public static partial void BadCgiAnswer(ILogger logger, string repository);

        [LoggerMessage(EdgeEventIds.GitBackendSaid, LogLevel.Information, "git http-backend for {Repository}: {Line}")]
        public static partial void BackendSaid(ILogger logger, string repository, string line);

        [LoggerMessage(EdgeEventIds.GitBackendsBusy, LogLevel.Warning, "{Service} of {Repository} refused with 503: all {MaxBackendProcesses} git http-backend programs (Git:MaxBackendProcesses) stayed busy for {QueueTimeout}")]
        public static partial void BackendsBusy(ILogger logger, string repository, string service, int maxBackendProcesses, TimeSpan queueTimeout);

        [LoggerMessage(EdgeEventIds.GitClientGone, LogLevel.Information, "Client went away during {Service} of {Repository} ({Reason}); git http-backend stopped")]
        public static partial void ClientGone(ILogger logger, string repository, string service, string reason);
    }
}
