/**
 * iDenFace's view of head pose: the angle each half of the face shows to the camera, and limits on
 * them (its `face_left_angle_range`, `face_right_angle_range`, `face_angle_difference`).
 *
 * Model: a level, frontal face shows each half at 45°. Turning the head by `yaw` opens the half
 * that turns towards the camera and closes the other by yaw/4 each; lifting the chin by `pitch`
 * opens both by pitch/4. So
 *   left  = 45 + (pitch − yaw) / 4,   right = 45 + (pitch + yaw) / 4,   difference = |right − left| = |yaw| / 2,
 * with yaw positive towards the subject's own left (Faceproof's convention, see quality.ts) and
 * pitch positive upwards. The scale is the one on which the manual's suggestions agree with its
 * acquisition requirement (yaw and pitch within ±30°): a difference of at most 15 is |yaw| ≤ 30°,
 * and both sides in [35, 58] admit pitch from −40° to +52° for a face turned neither way, or
 * |yaw| up to 30° with pitch from −10° to +22°.
 */
export interface SideAngles {
  left: number;
  right: number;
  difference: number;
}

export interface SideAngleLimits {
  left?: readonly [number, number];
  right?: readonly [number, number];
  maxDifference?: number;
}

/** The first limit a pose breaks: the left range, the right range, then the difference. */
export type SideAngleViolation = 'left' | 'right' | 'difference';

export function sideAngles(pose: { yaw: number; pitch: number }): SideAngles {
  const left = 45 + (pose.pitch - pose.yaw) / 4;
  const right = 45 + (pose.pitch + pose.yaw) / 4;
  return { left, right, difference: Math.abs(right - left) };
}

export function sideAngleViolation(a: SideAngles, limits: SideAngleLimits): SideAngleViolation | undefined {
  const outside = (v: number, range: readonly [number, number] | undefined) => range !== undefined && (v < Math.min(...range) || v > Math.max(...range));
  if (outside(a.left, limits.left)) return 'left';
  if (outside(a.right, limits.right)) return 'right';
  if (limits.maxDifference !== undefined && a.difference > limits.maxDifference) return 'difference';
  return undefined;
}

/**
 * A live score (0..1) re-expressed as a probability whose 0.5 sits on the threshold of the chosen
 * security level, so a client's `liveness_threshold` of 0.5 keeps the calibrated decision:
 * logit(probability) = logit(score) − logit(threshold). The logit itself is iDenFace's `score`.
 */
export function livenessProbability(score: number, threshold: number): { probability: number; logit: number } {
  const logit = (p: number) => {
    const q = Math.min(1 - 1e-9, Math.max(1e-9, p));
    return Math.log(q / (1 - q));
  };
  const z = logit(score) - logit(threshold);
  return { probability: 1 / (1 + Math.exp(-z)), logit: z };
}
