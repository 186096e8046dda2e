using System.Security.Cryptography;

namespace AnnexEdge.Telemetry;

/// <summary>
/// Which configuration the edge runs: the first 12 hex digits of the SHA-256 of the config file (<c>none</c> without
/// one; settings from the environment or command line are not in it) and when it was loaded.
/// </summary>
internal sealed record ConfigVersion(string Version, DateTimeOffset LoadedAt, string? Path)
{
    public static ConfigVersion Of(string? configFile, DateTimeOffset loadedAt) =>
        new(configFile is null ? "none" : Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(configFile)))[..12], loadedAt, configFile);
}
