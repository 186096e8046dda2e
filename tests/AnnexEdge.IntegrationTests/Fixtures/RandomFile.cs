using System.Security.Cryptography;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>Large test objects on disk, so a test streams them instead of holding them in memory.</summary>
public static class RandomFile
{
    /// <summary>Writes <paramref name="size"/> random bytes (a multiple of 4 MiB) to a file and returns its SHA256E key, hashed while writing.</summary>
    public static async Task<(string Path, string Key)> WriteAsync(string path, long size, CancellationToken cancel)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[4 * 1024 * 1024];
        await using (var file = File.Create(path))
        {
            for (long left = size; left > 0; left -= buffer.Length)
            {
                RandomNumberGenerator.Fill(buffer);
                sha.AppendData(buffer);
                await file.WriteAsync(buffer, cancel);
            }
        }

        return (path, $"SHA256E-s{size}--{Convert.ToHexStringLower(sha.GetHashAndReset())}");
    }
}
