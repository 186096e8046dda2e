namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// Makes sure a git-annex with p2phttp is installed. In CI (CI=true) a missing git-annex fails the test;
/// on a developer machine it skips with the command that installs it.
/// </summary>
public static class GitAnnex
{
    private static readonly Lazy<Task<string?>> Version = new(async () =>
    {
        try
        {
            var result = await ProcessRunner.RunAsync("git-annex", ["version", "--raw"], timeout: TimeSpan.FromSeconds(30));
            return result.ExitCode == 0 ? result.Output.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    });

    public static async Task RequireAsync()
    {
        var version = await Version.Value;
        if (version is not null && string.CompareOrdinal(version, "10.20240731") >= 0)
        {
            return;
        }

        var message = $"git-annex >= 10.20240731 with p2phttp is needed (found: {version ?? "none"}); install it with scripts/install-deps.sh";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(message);
        }

        Assert.Skip(message);
    }
}
