using System.Diagnostics;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// Debian's <c>chromium</c>, headless, as a person's browser for pages the edge serves: <see cref="DumpDomAsync"/>
/// loads a page and returns the DOM it rendered. Each run has a fresh profile directory and is killed (with its
/// children) at its deadline. In CI (CI=true) a missing chromium fails the test; elsewhere it skips with how to
/// install it.
/// </summary>
public static class HeadlessChromium
{
    private static readonly string? Executable = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    public static void Require()
    {
        if (Executable is not null)
        {
            return;
        }

        const string message = "chromium is needed for browser tests; install it with scripts/install-deps.sh (Debian package chromium)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(message);
        }

        Assert.Skip(message);
    }

    /// <summary>The DOM of the page at <paramref name="url"/> once chromium has loaded it.</summary>
    public static async Task<string> DumpDomAsync(string url, TimeSpan? deadline = null, CancellationToken ct = default)
    {
        Require();
        using var profile = new TempDirectory("chromium");
        var info = ProcessRunner.StartInfo(
            Executable!,
            ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile.Path, "--dump-dom", url],
            profile.Path,
            null);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start chromium");
        var dom = process.StandardOutput.ReadToEndAsync(ct);
        var errors = process.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(deadline ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"chromium did not render {url} in time");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"chromium exited with {process.ExitCode} for {url}:\n{await errors}");
        }

        return await dom;
    }
}
