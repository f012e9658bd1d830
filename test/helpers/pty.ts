import WebSocket from "ws";

/**
 * Opens a PTY's WebSocket, types a sum into its shell and resolves once the shell has
 * answered. The answer (42) is only in the shell's output, never in what was typed.
 */
export async function shellAnswers(url: string, headers: Record<string, string> = {}): Promise<void> {
  const socket = new WebSocket(url, { headers });
  try {
    let output = "";
    const answered = new Promise<void>((resolve, reject) => {
      socket.on("message", (data) => {
        output += data.toString();
        if (output.includes("42")) resolve();
      });
      socket.on("error", reject);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    socket.send("echo $((6*7))\n");
    await answered;
  } finally {
    socket.terminate();
  }
}
