using AnnexEdge.Telemetry;

namespace AnnexEdge.Tests.Telemetry;

public sealed class ConfigVersionTests
{
    [Fact]
    public void The_version_is_the_config_files_hash_and_changes_with_its_content()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "{}");
            var first = ConfigVersion.Of(file, DateTimeOffset.UnixEpoch);
            File.WriteAllText(file, "{ }");
            var second = ConfigVersion.Of(file, DateTimeOffset.UnixEpoch);

            // SHA-256 of "{}".
            Assert.Equal("44136fa355b3", first.Version);
            Assert.NotEqual(first.Version, second.Version);
            Assert.Equal("none", ConfigVersion.Of(null, DateTimeOffset.UnixEpoch).Version);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
