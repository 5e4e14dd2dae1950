// The soft-RoCE guest's two device addresses (softroce/run-in-guest.sh sets them):
// servers listen on the first, clients leave from the second.
export const SOFTROCE_IP0 = process.env.SOFTROCE_IP0 ?? "10.77.0.1";
export const SOFTROCE_IP1 = process.env.SOFTROCE_IP1 ?? "10.77.0.2";
