namespace AnnexEdge.Security;

/// <summary><c>AnnexEdge hash-password</c>: reads a password on standard input and prints a <c>PasswordHash</c> value.</summary>
internal static class HashPasswordCommand
{
    public const string Name = "hash-password";

    public static int Run(TextReader input, TextWriter output, TextWriter error)
    {
        var password = input.ReadToEnd();
        // `echo PASSWORD |` adds a newline nobody means to be part of the password.
        if (password.EndsWith('\n'))
        {
            password = password[..^1].TrimEnd('\r');
        }

        if (password.Length == 0)
        {
            error.WriteLine("AnnexEdge: hash-password: no password on standard input (try: echo -n PASSWORD | AnnexEdge hash-password)");
            return 2;
        }

        output.WriteLine(PasswordHash.Create(password));
        return 0;
    }
}
